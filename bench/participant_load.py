"""Load the production stack with simulated participants rating at full speed; check every rating.

Starts gunicorn (platform/gunicorn.conf.py, production settings) and a Celery worker on this
machine's PostgreSQL and Redis, creates a rating study through the real services (no consent
or prescreens, so each session is the trial loop), then:

1. the floor: N clients POST to a bench-only view that inserts one row (bench/load_urls.py);
2. the participants: N clients each enter, then GET the trial, submit it, ... and finish.

It prints trial submissions per second, p50/p95/p99 per endpoint, errors, the ratio of
submissions to the floor and the CPU each part used, then checks in the database that every
acknowledged rating is stored exactly once. The load generator is one asyncio process
(httpx, one keep-alive connection per client, as each participant's browser has its own),
so it takes little of the CPU it shares with the server.

Run from the repository root with the services' variables set:
    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \\
        .venv/bin/python -m bench.participant_load [--participants 200] [--port 8130]
The study is deleted at the end (--keep leaves it for a look in the admin).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django

logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
django.setup()

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from bench.load_urls import FLOOR_TABLE  # noqa: E402
from moodlab.studies.demo import DEMO_DATA, ShortClips, demo_song_rows  # noqa: E402
from moodlab.studies.models import Participant, Study  # noqa: E402
from moodlab.studies.services.song_import import songs_import  # noqa: E402
from moodlab.studies.services.studies import study_add_locale, study_set_phase  # noqa: E402
from moodlab.studies.services.term_import import terms_import  # noqa: E402
from rating.models import Cell, Rating, Trial  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HTTP_TIMEOUT = httpx.Timeout(120.0)
TRANSPORT_ATTEMPTS = 3
# TLS ends at the load balancer in production; it tells the app so, as this header does.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def build_study(*, songs_per_country: int, trials: int) -> Study:
    """A one-locale rating study built as the test suite builds it: real songs and terms."""
    study = Study.objects.create(
        slug=f"bench-load-{uuid.uuid4().hex[:8]}",
        title="Participant load benchmark",
        trials_per_participant=trials,
        ask_consent=False,
        volume_calibration=False,
        headphone_check=False,
        vocabulary_check=False,
    )
    locale = study_add_locale(study=study, code="en-US")
    terms_import(locale=locale, csv_source=(DEMO_DATA / "terms_en.csv").read_bytes())
    rows = demo_song_rows(songs_per_country)
    songs_import(study=study, csv_source=rows, audio=ShortClips.for_rows(rows))
    return study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)


def delete_study(study: Study) -> None:
    # Repeats protect their originals: they go first.
    Trial.objects.filter(participant__study=study, is_repeat=True).delete()
    Participant.objects.filter(study=study).delete()
    study.delete()


# --- the stack ---------------------------------------------------------------------------


def server_environment(port: int, var_dir: Path) -> dict[str, str]:
    broker = os.environ["CELERY_BROKER_URL"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CACHE_URL": os.environ.get("CACHE_URL", broker),
        "MOODLAB_VAR_DIR": str(var_dir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # Every simulated participant comes from 127.0.0.1; real ones come from many addresses.
        # The per-participant limit stays as configured.
        "THROTTLE_ADDRESS_SUBMIT": "1000000/minute",
        "THROTTLE_PARTICIPANT_START": "1000000/minute",
        "LOG_LEVEL": "WARNING",
    }


def start_stack(env: dict[str, str], var_dir: Path) -> list[subprocess.Popen[bytes]]:
    var_dir.mkdir(parents=True, exist_ok=True)
    log = (var_dir / "stack.log").open("ab")
    python = sys.executable
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "moodlab", "worker", "--concurrency=1",
         "--loglevel=WARNING", "-n", f"bench-load-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    web = subprocess.Popen(
        [python, "-m", "gunicorn", "moodlab.wsgi:application",
         "--config", str(ROOT / "platform" / "gunicorn.conf.py"),
         "--access-logfile", str(var_dir / "access.log")],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    return [web, worker]


def stop_stack(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_healthy(base_url: str, web: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit("gunicorn exited; see the stack.log in the var folder")
        try:
            health = httpx.get(f"{base_url}/healthz", headers=PROXY_HEADERS, timeout=5).json()
            if all(check["status"] == "ok" for check in health["checks"].values()):
                return health
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise SystemExit("the stack did not become healthy within 90 s")


def cpu_seconds_of(pid: int) -> tuple[int, float]:
    """(process group, user + system CPU seconds) of a live process; (-1, 0) once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1, 0.0
    # Fields after the name: state, ppid, pgrp, ..., utime and stime 12th and 13th.
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of_group(pgid: int) -> float:
    """CPU of every live process in a process group (gunicorn and its workers)."""
    processes = (
        cpu_seconds_of(int(stat.parent.name)) for stat in Path("/proc").glob("[0-9]*/stat")
    )
    return sum(seconds for group, seconds in processes if group == pgid)


def database_backends_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this database (same machine)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return {pid: cpu_seconds_of(pid)[1] for (pid,) in cursor.fetchall()}


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


# --- the load ----------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[int, dict[int, int]] = field(default_factory=dict)
    completed: int = 0


class FailedRequestError(Exception):
    pass


async def call(
    client: httpx.AsyncClient, results: Results, name: str, method: str, url: str, **kwargs: Any
) -> Any:
    started = time.perf_counter()
    for attempt in range(1, TRANSPORT_ATTEMPTS + 1):
        try:
            response = await client.request(method, url, **kwargs)
            break
        except httpx.TransportError as exc:
            # A worker recycled by max_requests (or killed by its timeout) drops its
            # connections; every participant API answers an identical retry the same, as a
            # participant's page retries.
            results.retried[f"{name}: {type(exc).__name__}"] += 1
            if attempt == TRANSPORT_ATTEMPTS:
                results.errors[f"{name}: {type(exc).__name__}"] += 1
                raise FailedRequestError from exc
    results.latencies[name].append(time.perf_counter() - started)
    if response.status_code >= 400:
        results.errors[f"{name}: HTTP {response.status_code}"] += 1
        raise FailedRequestError(response.text[:200])
    return response.json()


Think = Callable[[dict[str, Any]], float]


def no_thinking(trial: dict[str, Any]) -> float:
    return 0.0


def thinking(seconds: float | None) -> Think:
    """A person's time on a trial: the study's estimate for it (seconds per term × terms),
    or the given seconds, ±50 % at random so that participants drift apart."""

    def think(trial: dict[str, Any]) -> float:
        base = trial["estimated_seconds"] if seconds is None else seconds
        return float(base) * random.uniform(0.5, 1.5)

    return think


async def participant_session(
    client: httpx.AsyncClient,
    results: Results,
    study_slug: str,
    number: int,
    think: Think = no_thinking,
    arrival: float = 0.0,
) -> None:
    """Arrive after `arrival` seconds, enter, rate each trial after `think` seconds (none at
    full speed), finish; stops at the first error."""
    try:
        await asyncio.sleep(arrival)
        entry = await call(
            client, results, "enter", "POST", "/api/v1/participants/",
            json={"study": study_slug, "locale": "en-US",
                  "recruiter_participant_id": f"load-{number}"},
        )  # fmt: skip
        headers = {"Authorization": f"Participant {entry['token']}"}
        current = await call(
            client, results, "trial", "GET", "/api/v1/rating/trial/", headers=headers
        )
        trial = current["trial"]
        while trial is not None:
            await asyncio.sleep(think(trial))
            ratings = {term["id"]: 1 + (trial["id"] + term["id"]) % 5 for term in trial["terms"]}
            answer = await call(
                client, results, "submit", "POST", f"/api/v1/rating/trials/{trial['id']}/submit/",
                json={"ratings": {str(k): v for k, v in ratings.items()},
                      "audio_played_seconds": trial["song"]["clip_seconds"] or 0.0},
                headers=headers,
            )  # fmt: skip
            results.acknowledged[trial["id"]] = ratings
            if "next" in answer:
                trial = answer["next"]["trial"]
            else:
                current = await call(
                    client, results, "trial", "GET", "/api/v1/rating/trial/", headers=headers
                )
                trial = current["trial"]
        await call(client, results, "finish", "POST", "/api/v1/rating/finish/", headers=headers)
        results.completed += 1
    except FailedRequestError:
        pass


async def floor_client(client: httpx.AsyncClient, results: Results, requests: int) -> None:
    for _ in range(requests):
        with contextlib.suppress(FailedRequestError):
            await call(client, results, "floor", "POST", "/bench/floor/", content=b"{}")


async def run_clients(base_url: str, clients: int, make: Any) -> float:
    """Each client has its own connection, as each participant's browser does: one shared
    pool of N connections costs the generator time in proportion to the requests waiting."""
    async with contextlib.AsyncExitStack() as stack:
        connections = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url,
                    headers=PROXY_HEADERS,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=HTTP_TIMEOUT,
                )
            )
            for _ in range(clients)
        ]
        started = time.perf_counter()
        await asyncio.gather(*(make(client, number) for number, client in enumerate(connections)))
        return time.perf_counter() - started


@dataclass
class Phase:
    """Wall time and CPU seconds of one phase: load generator, gunicorn, whole machine."""

    wall: float
    generator_cpu: float
    server_cpu: float
    database_cpu: float
    machine_busy: float
    machine_total: float

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        return (
            f"CPU over {self.wall:.1f} s: load generator {self.generator_cpu / self.wall:.0%} of"
            f" a core, gunicorn {self.server_cpu / self.wall:.0%}, PostgreSQL backends"
            f" {self.database_cpu / self.wall:.0%}, machine"
            f" {self.machine_busy / self.machine_total:.0%} of {cores} cores busy"
        )


def measured(web_pid: int, run: Any) -> Phase:
    generator = resource.getrusage(resource.RUSAGE_SELF)
    server = cpu_seconds_of_group(web_pid)
    database = database_backends_cpu()
    busy, total = machine_busy_seconds()
    wall = run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    busy_after, total_after = machine_busy_seconds()
    # Backends that closed during the phase are missed: persistent connections keep them.
    database_after = database_backends_cpu()
    return Phase(
        wall=wall,
        generator_cpu=after.ru_utime + after.ru_stime - generator.ru_utime - generator.ru_stime,
        server_cpu=cpu_seconds_of_group(web_pid) - server,
        database_cpu=sum(cpu - database.get(pid, 0.0) for pid, cpu in database_after.items()),
        machine_busy=busy_after - busy,
        machine_total=total_after - total,
    )


# --- the report --------------------------------------------------------------------------


def print_latencies(results: Results) -> None:
    print(f"{'endpoint':<10}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in results.latencies.items():
        p50, p95, p99 = np.percentile(np.array(values) * 1000, [50, 95, 99])
        print(
            f"{name:<10}{len(values):>9}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{max(values) * 1000:>9.1f}"
        )


def print_errors(results: Results) -> None:
    for label, counts in (("errors", results.errors), ("retried", results.retried)):
        lines = "".join(f"\n  {k}: {n}" for k, n in sorted(counts.items()))
        print(f"{label}: {sum(counts.values())}{lines}")


def verify_ratings(study: Study, results: Results) -> bool:
    """Every acknowledged rating stored exactly once, nothing stored that was not acknowledged,
    and the allocator's ledger equal to the ratings and held trials it counts."""
    acknowledged = {
        (trial, term, value)
        for trial, ratings in results.acknowledged.items()
        for term, value in ratings.items()
    }
    rows = list(
        Rating.objects.filter(participant__study=study).values_list("trial", "term", "value")
    )
    stored = set(rows)
    lost = acknowledged - stored
    unacknowledged = stored - acknowledged
    duplicated = len(rows) - len(stored)
    counted = {
        (row["song"], row["term"]): row["n"]
        for row in Rating.objects.filter(participant__study=study, trial__is_repeat=False)
        .values("song", "term")
        .annotate(n=Count("id"))
    }
    held: Counter[tuple[int, int]] = Counter(
        (song, term)
        for song, term in Trial.objects.filter(
            participant__study=study, is_repeat=False, status=Trial.Status.HELD
        ).values_list("song", "participant__rating_terms__term")
    )
    ledger_off = sum(
        1
        for cell in Cell.objects.filter(locale__study=study).exclude(assigned=0, rated=0)
        if cell.rated != counted.get((cell.song_id, cell.term_id), 0)
        or cell.assigned != cell.rated + held[(cell.song_id, cell.term_id)]
    )
    print(
        f"ratings: {len(acknowledged)} acknowledged, {len(rows)} stored; lost {len(lost)},"
        f" duplicated {duplicated}, stored without acknowledgement {len(unacknowledged)};"
        f" cells off the ledger {ledger_off}"
    )
    return not lost and not duplicated and not unacknowledged and not ledger_off


# Issue 8's targets on this 2-core machine.
TARGET_RATIO = 0.5
TARGET_SUBMIT_P99_MS = 250.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_sessions(
    base_url: str, web_pid: int, study: Study, n: int, think: Think, arrival_seconds: float
) -> tuple[Results, Phase]:
    results = Results()
    arrivals = [random.uniform(0, arrival_seconds) for _ in range(n)]
    phase = measured(
        web_pid,
        lambda: asyncio.run(
            run_clients(
                base_url,
                n,
                lambda c, i: participant_session(c, results, study.slug, i, think, arrivals[i]),
            )
        ),
    )
    return results, phase


def report_sessions(study: Study, results: Results, n: int) -> tuple[bool, float]:
    """Prints latencies, errors and the ratings check; (all clean, submit p99 in ms)."""
    print_latencies(results)
    print_errors(results)
    print(f"sessions completed: {results.completed} of {n}")
    stored_ok = verify_ratings(study, results)
    clean = stored_ok and not results.errors and results.completed == n
    print(
        f"zero errors, every session complete, every acknowledged rating stored once:"
        f" {verdict(clean)}"
    )
    p99 = float(np.percentile(np.array(results.latencies["submit"]) * 1000, 99))
    return clean, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--trials", type=int, default=65, help="regular trials per participant")
    parser.add_argument("--songs-per-country", type=int, default=12, help="59 countries")
    parser.add_argument("--floor-requests", type=int, default=30, help="per client")
    parser.add_argument(
        "--paced-trials", type=int, default=6, help="per participant in the paced run; 0: none"
    )
    parser.add_argument(
        "--think-seconds",
        type=float,
        help="a paced participant's time per trial, ±50 %% (default: the trial's estimate,"
        " seconds per term × terms, 21 s for this study)",
    )
    parser.add_argument(
        "--arrival-seconds", type=float, default=30, help="paced participants arrive over this"
    )
    parser.add_argument("--port", type=int, default=8130)
    parser.add_argument("--keep", action="store_true", help="keep the studies afterwards")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not os.environ.get("CELERY_BROKER_URL"):
        raise SystemExit("Set DATABASE_URL to PostgreSQL and CELERY_BROKER_URL to Redis.")

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, body text,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    started = time.perf_counter()
    study = build_study(songs_per_country=args.songs_per_country, trials=args.trials)
    studies = [study]
    print(
        f"study {study.slug}: {study.songs.count()} songs, 1 locale, 20 terms, 7 per participant,"
        f" {study.trials_per_participant} trials + {study.repeat_trials} repeat"
        f" ({time.perf_counter() - started:.1f} s)"
    )
    var_dir = Path(os.environ.get("MOODLAB_VAR_DIR", ROOT / "var")) / "bench-load"
    env = server_environment(args.port, var_dir)
    base_url = f"http://127.0.0.1:{args.port}"
    processes = start_stack(env, var_dir)
    verdicts: list[bool] = []
    try:
        health = wait_healthy(base_url, processes[0])
        print(
            f"stack: gunicorn {env.get('GUNICORN_WORKERS', 'default')} workers ×"
            f" {env.get('GUNICORN_THREADS', 'default')} threads, Celery worker"
            f" {', '.join(health['checks']['workers']['workers'])}; load {os.getloadavg()}"
        )
        n = args.participants

        floor = Results()
        floor_phase = measured(
            processes[0].pid,
            lambda: asyncio.run(
                run_clients(base_url, n, lambda c, _: floor_client(c, floor, args.floor_requests))
            ),
        )
        floor_rate = len(floor.latencies["floor"]) / floor_phase.wall
        print(f"\n== floor: {n} clients, one-row insert view ==")
        print_latencies(floor)
        print_errors(floor)
        print(f"throughput: {floor_rate:.1f} inserts/s; {floor_phase.describe()}")

        results, load_phase = run_sessions(base_url, processes[0].pid, study, n, no_thinking, 0)
        submit_rate = len(results.latencies["submit"]) / load_phase.wall
        print(f"\n== full speed: {n} participants at once, no time between requests ==")
        clean, p99 = report_sessions(study, results, n)
        ratio = submit_rate / floor_rate
        print(f"throughput: {submit_rate:.1f} trial submissions/s; {load_phase.describe()}")
        print(
            f"ratio submit / floor: {ratio:.2f} (target >= {TARGET_RATIO}: "
            f"{verdict(ratio >= TARGET_RATIO)})"
        )
        print(
            f"submit p99 {p99:.0f} ms: at full speed a closed loop of {n} clients waits"
            f" {n} / throughput = {n / submit_rate * 1000:.0f} ms per request (Little's law);"
            " the latency target is judged on the paced run"
        )
        verdicts += [clean, ratio >= TARGET_RATIO]

        if args.paced_trials:
            paced = build_study(songs_per_country=args.songs_per_country, trials=args.paced_trials)
            studies.append(paced)
            think = thinking(args.think_seconds)
            results, paced_phase = run_sessions(
                base_url, processes[0].pid, paced, n, think, args.arrival_seconds
            )
            per_trial = (
                f"{args.think_seconds:g} s" if args.think_seconds else "the trial's estimate"
            )
            print(
                f"\n== paced: {n} participants arriving over {args.arrival_seconds:g} s, each"
                f" taking {per_trial} ±50 % per trial, {args.paced_trials} trials + repeat =="
            )
            clean, p99 = report_sessions(paced, results, n)
            submit_rate = len(results.latencies["submit"]) / paced_phase.wall
            print(f"throughput: {submit_rate:.1f} trial submissions/s; {paced_phase.describe()}")
            print(
                f"submit p99: {p99:.0f} ms (target < {TARGET_SUBMIT_P99_MS:.0f} ms:"
                f" {verdict(p99 < TARGET_SUBMIT_P99_MS)})"
            )
            verdicts += [clean, p99 < TARGET_SUBMIT_P99_MS]
        print(f"\nload average after the runs: {os.getloadavg()}")
    finally:
        stop_stack(processes)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        if not args.keep:
            for each in studies:
                delete_study(each)
    if not all(verdicts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
