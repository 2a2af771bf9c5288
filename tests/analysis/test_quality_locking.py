from __future__ import annotations

import dataclasses
import threading

import pytest
from django.db import connection, transaction

from analysis.models import QualityRun
from analysis.services.quality import RULES, quality_check
from moodlab.studies.models import Study


@pytest.mark.django_db(transaction=True)
def test_quality_control_does_not_hold_the_study_row_while_its_rules_compute(
    population, monkeypatch
):
    computing, release = threading.Event(), threading.Event()
    rule = RULES["straight_lining"]

    def slow_check(data, params):
        computing.set()
        assert release.wait(60)
        return rule.check(data, params)

    monkeypatch.setitem(RULES, rule.name, dataclasses.replace(rule, check=slow_check))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            quality_check(study_id=population.study.pk)
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert computing.wait(60)
        # What an admin save or a snapshot start does while the rules compute: without
        # NOWAIT this would block until quality control finished.
        with transaction.atomic():
            Study.objects.select_for_update(nowait=True).get(pk=population.study.pk)
    finally:
        release.set()
        worker.join(60)

    assert not errors
    run = QualityRun.objects.get(study=population.study)
    assert run.finished_at is not None
    assert (
        run.participants_checked
        == Study.objects.get(pk=population.study.pk).participants.filter(phase="rating").count()
    )
