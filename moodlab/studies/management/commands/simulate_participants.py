"""Drive simulated participants through the real participant API over HTTP."""

from __future__ import annotations

import csv
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from moodlab.simulation import MoodModel, parse_divergent_term, world_seed_for
from moodlab.studies.extensions import phase_extension
from moodlab.studies.management.study_option import add_study_option, get_study
from moodlab.studies.models import Participant, Study
from moodlab.studies.simulated import PatientTransport, SessionOutcome
from moodlab.wsgi import application


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            # Each request runs on its own thread: give its database connection back.
            connections.close_all()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def local_server() -> Iterator[str]:
    """This project's WSGI app on a free local port, for as long as the block runs."""
    server = make_server(
        "127.0.0.1", 0, application, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Outcome:
    seed: int = 0
    """The run's rater seed: --seed replays the same raters."""
    locale: str = ""
    participant: str = ""
    rater: str = ""
    attentive: bool = True
    trials: int = 0
    status: str = ""
    error: str = ""


class Command(BaseCommand):
    help = "Run simulated participants (a latent valence-arousal model) through the real API."

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)
        parser.add_argument("--locale", required=True, help="A locale code, or 'all'.")
        parser.add_argument("--count", type=int, default=50, help="Participants per locale.")
        parser.add_argument(
            "--phase", choices=[p.value for p in Participant.Phase], default="rating"
        )
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument(
            "--base-url", help="A running MoodLab; without it a local server is started."
        )
        parser.add_argument(
            "--seed",
            type=int,
            help="Replay the same raters (default: new raters every run).",
        )
        parser.add_argument(
            "--world-seed",
            type=int,
            help="Seed of the songs' and terms' places in the mood model (default: fixed per "
            "study, derived from its slug, so later runs rate the same world).",
        )
        parser.add_argument(
            "--divergent-term",
            action="append",
            default=[],
            metavar="LOCALE:GLOSS[=VALENCE,AROUSAL]",
            help="Plant a dictionary equivalent that means something else in one locale, "
            "e.g. ko-KR:sad (loads on arousal, 0,0.9). Repeatable; give it on every run.",
        )
        parser.add_argument(
            "--outcomes",
            type=Path,
            metavar="CSV",
            help="Write one row per simulated participant: public id, rater kind, attentive, "
            "status (the truth quality control can be checked against).",
        )
        parser.add_argument(
            "--inattentive-share",
            type=float,
            default=0.0,
            help="Share of listeners who fail the headphone check (and are screened out).",
        )
        parser.add_argument(
            "--vocabulary-error-rate",
            type=float,
            default=0.0,
            help="Chance that a listener misclasses each word of the vocabulary check.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        codes = self._locale_codes(study, options["locale"])
        simulate = _participant_driver(options["phase"])
        world_seed = options["world_seed"]
        try:
            model = MoodModel(
                seed=world_seed_for(study.slug) if world_seed is None else world_seed,
                trials_per_session=study.trials_per_participant + study.repeat_trials,
                inattentive_share=options["inattentive_share"],
                vocabulary_error_rate=options["vocabulary_error_rate"],
                term_overrides=dict(map(parse_divergent_term, options["divergent_term"])),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        jobs = [(code, index) for code in codes for index in range(options["count"])]
        # Fresh raters each run unless --seed asks for a replay.
        rater_seed = options["seed"]
        if rater_seed is None:
            rater_seed = secrets.randbits(63)

        def run(job: tuple[str, int], base_url: str) -> Outcome:
            code, index = job
            rng = np.random.default_rng([rater_seed, codes.index(code), index])
            rater = model.draw_rater(rng)
            who = Outcome(
                seed=rater_seed, locale=code, rater=rater.kind.value, attentive=rater.attentive
            )
            try:
                with httpx.Client(
                    base_url=base_url, timeout=60, transport=PatientTransport()
                ) as client:
                    session = simulate(
                        client,
                        study_slug=study.slug,
                        locale_code=code,
                        recruiter_id=f"sim-{uuid.uuid4().hex}",
                        model=model,
                        rater=rater,
                        rng=rng,
                    )
            except (httpx.HTTPError, KeyError, ValueError) as error:
                who.error = f"{code} #{index}: {error}"
                return who
            finally:
                # Reading the prescreen answers opened this pool thread's connection.
                connections.close_all()
            who.participant, who.trials, who.status = (
                session.participant,
                session.trials,
                session.status,
            )
            return who

        with (
            _server(options["base_url"]) as base_url,
            ThreadPoolExecutor(max_workers=max(options["concurrency"], 1)) as pool,
        ):
            outcomes = list(pool.map(lambda job: run(job, base_url), jobs))
        self._report(study, options["phase"], outcomes)
        self.stdout.write(f"raters drawn with --seed {rater_seed} (give it to replay them)")
        if options["outcomes"]:
            _write_outcomes(options["outcomes"], outcomes)
        if outcomes and all(outcome.error for outcome in outcomes):
            raise CommandError("No simulated participant got through; see the errors above.")

    @staticmethod
    def _locale_codes(study: Study, requested: str) -> list[str]:
        active = list(study.locales.filter(is_active=True).values_list("code", flat=True))
        if requested == "all":
            return active
        if requested not in active:
            raise CommandError(f"{study.slug} has no active locale {requested!r}: {active}")
        return [requested]

    def _report(self, study: Study, phase: str, outcomes: list[Outcome]) -> None:
        errors = [outcome.error for outcome in outcomes if outcome.error]
        finished = [outcome for outcome in outcomes if not outcome.error]
        trials = sum(outcome.trials for outcome in finished)
        per_trial = study.terms_per_participant if phase == Participant.Phase.RATING else 0
        statuses = Counter(outcome.status for outcome in finished)
        completed = statuses[Participant.Status.COMPLETED]
        screened_out = statuses[Participant.Status.SCREENED_OUT]
        full = statuses[Participant.Status.FULL]
        self.stdout.write(
            f"participants {len(outcomes)}, "
            f"completed {completed}, "
            f"screened out {screened_out}, "
            f"turned away (study full) {full}, "
            f"dropped {len(finished) - completed - screened_out - full}, "
            f"trials {trials}, "
            + (f"ratings {trials * per_trial}, " if per_trial else "")
            + f"errors {len(errors)}"
        )
        for error in errors[:10]:
            self.stderr.write(error)


def _write_outcomes(path: Path, outcomes: list[Outcome]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Outcome.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(outcome) for outcome in outcomes)


@contextmanager
def _server(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url.rstrip("/")
        return
    with local_server() as url:
        yield url


def _participant_driver(phase: str) -> Callable[..., SessionOutcome]:
    """The phase's app walks its participants (see `moodlab.studies.extensions`)."""
    extension = phase_extension(phase)
    if extension is None or extension.simulated_participant is None:
        raise CommandError(f"No installed app simulates participants of the {phase} phase.")
    return extension.simulated_participant
