"""How long a participant took on a rating trial: the number the `too_fast` rule reads.

The page measures it in the browser, from when the trial was shown (its scale answerable,
the clip ready to play) to the press of submit, so neither network latency nor the time
the next trial took to arrive counts. The server keeps its own elapsed time since it
handed out the trial as an upper bound: a client can report less time than really passed,
never more. A client that reports nothing gets the server's elapsed time.

Simulated participants take no real time: `simulate_participants` rates a trial in
milliseconds. Their clock is the simulator's, and the server believes it only when the
request carries a signature of the trial made with this deployment's SECRET_KEY, which only
a simulator sharing the server's settings (as it must share its database) can make.
"""

from __future__ import annotations

from django.core import signing

SIMULATED_CLOCK_HEADER = "X-MoodLab-Simulated-Clock"
_SALT = "moodlab.rating.simulated-clock"


def simulated_clock_signature(trial_id: int) -> str:
    """What a simulator sends in SIMULATED_CLOCK_HEADER to have its trial time believed."""
    return signing.Signer(salt=_SALT).signature(f"trial:{trial_id}")


def simulated_clock_is_signed(trial_id: int, signature: str) -> bool:
    if not signature:
        return False
    try:
        signing.Signer(salt=_SALT).unsign(f"trial:{trial_id}:{signature}")
    except signing.BadSignature:
        return False
    return True


def response_seconds_measured(
    *, elapsed_seconds: float, reported_seconds: float | None, simulated_clock: str, trial_id: int
) -> float:
    """The trial's response time: the client's report, never above the server's elapsed time.

    A signed simulator's report stands as it is (see the module docstring).
    """
    if reported_seconds is None:
        return elapsed_seconds
    if simulated_clock_is_signed(trial_id, simulated_clock):
        return reported_seconds
    return min(reported_seconds, elapsed_seconds)
