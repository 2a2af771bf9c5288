"""Small helpers that make messages read as written for a person: plurals and short lists."""

from __future__ import annotations

# Shown in full up to this many names; longer lists end with "and N more".
MAX_NAMED = 8


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`plural(1, "study", "studies")` → "1 study"; `plural(2, "song")` → "2 songs"."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def named(items: list[str]) -> str:
    """A readable list: at most MAX_NAMED names, then how many more."""
    shown = ", ".join(items[:MAX_NAMED])
    return shown if len(items) <= MAX_NAMED else f"{shown} and {len(items) - MAX_NAMED} more"
