"""The vocabulary prescreen's word lists: shipped defaults per language, and their shape.

A participant who cannot tell common words of the locale's language from pseudowords that
look like them is unlikely to understand the rating terms. The default lists still need a
native speaker's review (README.md beside them).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TypedDict

from django.core.exceptions import ValidationError

MAX_WORD_LENGTH = 60
MAX_ITEMS = 100


class VocabularyItem(TypedDict):
    word: str
    real: bool


@cache
def default_vocabulary(language: str) -> tuple[VocabularyItem, ...]:
    """The shipped list of a language; empty when none ships for it."""
    if not language.isalpha():  # a language code, never a path
        return ()
    path = Path(__file__).with_name(f"{language}.json")
    return tuple(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else ()


def validate_vocabulary_items(items: object) -> None:
    """A list of distinct {"word": str, "real": bool} with both real words and pseudowords."""
    if not isinstance(items, list):
        raise ValidationError('Give a list of {"word": "...", "real": true|false} items.')
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"At most {MAX_ITEMS} items.")
    for position, item in enumerate(items, start=1):
        if (
            not isinstance(item, dict)
            or set(item) != {"word", "real"}
            or not isinstance(item["real"], bool)
            or not isinstance(item["word"], str)
            or not 0 < len(item["word"].strip()) <= MAX_WORD_LENGTH
        ):
            raise ValidationError(
                f'Item {position} must be {{"word": "<1 to {MAX_WORD_LENGTH} characters>", '
                '"real": true|false} and nothing else.'
            )
    words = [item["word"].strip() for item in items]
    if len(set(words)) != len(words):
        raise ValidationError("Each word may appear only once.")
    if {item["real"] for item in items} != {True, False}:
        raise ValidationError("Mix real words and pseudowords: a list of one kind tests nothing.")
