"""CPU and SQL per request of the participant loop against the floor view, measured in-process.

Wall time on a shared machine says more about the neighbours than about the code; CPU time
does not. This drives the same requests as bench/participant_load.py through Django's test
client (production settings, this machine's PostgreSQL and Redis), one at a time, and prints
per endpoint the CPU seconds of this process (Django, DRF, the drivers) and of its
PostgreSQL backend, and the SQL statements per request. The ratio of floor to submission
CPU bounds the load benchmark's throughput ratio from below: both also pay gunicorn and the
load generator, the same for each request.

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \\
        .venv/bin/python -m bench.request_cost [--participants 10] [--profile submit]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.load_settings")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("CACHE_URL", os.environ.get("CELERY_BROKER_URL", ""))
# One client address, as in the load benchmark; the per-participant limit stays as configured.
os.environ.setdefault("THROTTLE_ADDRESS_SUBMIT", "1000000/minute")
os.environ.setdefault("THROTTLE_PARTICIPANT_START", "1000000/minute")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.load_urls import FLOOR_TABLE  # noqa: E402
from bench.participant_load import build_study, cpu_seconds_of, delete_study  # noqa: E402

HEADERS = {"HTTP_X_FORWARDED_PROTO": "https", "REMOTE_ADDR": "203.0.113.5"}


@dataclass
class Cost:
    requests: int = 0
    cpu: float = 0.0
    database_cpu: float = 0.0
    queries: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))


class Meter:
    """Counts SQL statements with an execute wrapper (no SQL text kept) and CPU per name."""

    def __init__(self, profile: str | None) -> None:
        self.costs: dict[str, Cost] = defaultdict(Cost)
        self.queries = 0
        self.profile_name = profile
        self.profiler = cProfile.Profile()

    def _count(self, execute: Callable[..., Any], *args: Any) -> Any:
        self.queries += 1
        return execute(*args)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        backend = connection.connection.info.backend_pid if connection.connection else None
        database_before = cpu_seconds_of(backend)[1] if backend else 0.0
        self.queries = 0
        profiling = name == self.profile_name
        started = time.process_time()
        if profiling:
            self.profiler.enable()
        with connection.execute_wrapper(self._count):
            yield
        if profiling:
            self.profiler.disable()
        cost = self.costs[name]
        cost.cpu += time.process_time() - started
        backend = connection.connection.info.backend_pid if connection.connection else None
        cost.database_cpu += (cpu_seconds_of(backend)[1] if backend else 0.0) - database_before
        cost.queries += self.queries
        cost.requests += 1

    def request(self, name: str, send: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.measure(name):
            response = send(*args, **kwargs)
        self.costs[name].statuses[response.status_code] += 1
        return response.json()


def participant_session(meter: Meter, client: Client, slug: str, number: int) -> None:
    entry = meter.request(
        "enter",
        client.post,
        "/api/v1/participants/",
        {"study": slug, "locale": "en-US", "recruiter_participant_id": f"cost-{number}"},
        content_type="application/json",
        **HEADERS,
    )
    auth = {**HEADERS, "HTTP_AUTHORIZATION": f"Participant {entry['token']}"}
    # The first GET draws the terms (and fills the ledger of a fresh study): its own line.
    trial = meter.request("start", client.get, "/api/v1/rating/trial/", **auth)["trial"]
    while trial is not None:
        body = {
            "ratings": {str(term["id"]): 1 + term["id"] % 5 for term in trial["terms"]},
            "audio_played_seconds": trial["song"]["clip_seconds"] or 0.0,
        }
        url = f"/api/v1/rating/trials/{trial['id']}/submit/"
        answer = meter.request(
            "submit", client.post, url, body, content_type="application/json", **auth
        )
        trial = answer["next"]["trial"]
        # A reload of the page: what GET trial/ costs once the terms are drawn.
        meter.request("trial", client.get, "/api/v1/rating/trial/", **auth)
    meter.request("finish", client.post, "/api/v1/rating/finish/", **auth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--trials", type=int, default=65)
    parser.add_argument("--songs-per-country", type=int, default=12)
    parser.add_argument("--floor-requests", type=int, default=500)
    parser.add_argument("--profile", help="endpoint to profile: submit, trial, floor, enter")
    parser.add_argument("--profile-lines", type=int, default=40)
    args = parser.parse_args()

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, body text,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    study = build_study(songs_per_country=args.songs_per_country, trials=args.trials)
    meter = Meter(args.profile)
    client = Client()
    try:
        # Warm-up: imports, URL resolver, connection, first-use caches.
        for _ in range(20):
            client.post("/bench/floor/", b"{}", content_type="application/json", **HEADERS)
        for _ in range(args.floor_requests):
            meter.request(
                "floor", client.post, "/bench/floor/", b"{}", "application/json", **HEADERS
            )
        for number in range(args.participants):
            participant_session(meter, client, study.slug, number)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        delete_study(study)

    print(f"{'endpoint':<9}{'requests':>9}{'app ms':>9}{'db ms':>8}{'SQL':>7}  statuses")
    for name, cost in meter.costs.items():
        print(
            f"{name:<9}{cost.requests:>9}{cost.cpu / cost.requests * 1000:>9.2f}"
            f"{cost.database_cpu / cost.requests * 1000:>8.2f}{cost.queries / cost.requests:>7.1f}"
            f"  {dict(cost.statuses)}"
        )
    floor, submit = meter.costs["floor"], meter.costs["submit"]
    floor_cpu = (floor.cpu + floor.database_cpu) / floor.requests
    submit_cpu = (submit.cpu + submit.database_cpu) / submit.requests
    print(f"CPU per request, app + database: floor / submit = {floor_cpu / submit_cpu:.2f}")
    if args.profile:
        pstats.Stats(meter.profiler).sort_stats("cumulative").print_stats(args.profile_lines)


if __name__ == "__main__":
    main()
