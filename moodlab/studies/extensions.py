"""What the apps built on the core tell it, so that the core never imports them.

The core (`moodlab.studies`) sits below the phase apps (elicitation, rating) and analysis:
they import it, never the reverse (the import contract in pyproject.toml holds to that).
A few of the core's own rules still need an answer only an app above can give: whether a
locale's work is done (recruitment), what a phase move must check (pre-flight), how many of
a song's trials or turns failed to play (the song list), the dashboard's figures and how a
simulated participant walks a phase. Each app registers its answers once, in its
`AppConfig.ready()`; the core asks the registered apps and knows none of them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from moodlab.studies.models import Study, StudyLocale
    from moodlab.studies.preflight import Preflight
    from moodlab.studies.simulated import SessionOutcome


@dataclass(frozen=True)
class Extension:
    """One app's answers; every part is optional."""

    app: str
    phase: str = ""
    """The participant phase (`Study.Phase` value) whose work the app holds, if any."""
    work_done: Callable[[StudyLocale], bool] | None = None
    """Whether no new participant has work left in the locale, in `phase`."""
    work_done_reason: str = ""
    """What the locale's closure says when `work_done` is true."""
    skipped_for_audio: Callable[[], QuerySet[Any]] | None = None
    """The app's work units (each with a `song`) skipped because the clip failed to load."""
    preflight: Callable[[Preflight], None] | None = None
    """Adds the app's checks of a phase move to the checklist (it reads `preflight.phase`)."""
    overview: Callable[[Study], Mapping[str, int]] | None = None
    """Counts for the study page, by name."""
    dashboard: Callable[[StudyLocale], Mapping[str, object]] | None = None
    """The live charts' data of one locale, by chart."""
    simulated_participant: Callable[..., SessionOutcome] | None = None
    """Walks one simulated participant through `phase` over HTTP."""


_registered: dict[str, Extension] = {}


def extension_register(extension: Extension) -> None:
    """Called from an app's `ready()`; registering again replaces the app's answers."""
    _registered[extension.app] = extension


def extensions() -> list[Extension]:
    return list(_registered.values())


def phase_extension(phase: str) -> Extension | None:
    """The app that holds the participants' work in `phase`, if one is installed."""
    return next((ext for ext in _registered.values() if ext.phase and ext.phase == phase), None)
