"""The locales MoodLab knows out of the box: the five of the reference study (docs/method.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalePreset:
    code: str
    name: str
    direction: str = "ltr"


REFERENCE_LOCALES: dict[str, LocalePreset] = {
    preset.code: preset
    for preset in (
        LocalePreset("en-US", "English (United States)"),
        LocalePreset("fr-FR", "Français (France)"),
        LocalePreset("es-MX", "Español (México)"),
        LocalePreset("ko-KR", "한국어 (대한민국)"),
        LocalePreset("ar-EG", "العربية (مصر)", direction="rtl"),
    )
}

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def split_locale_code(code: str) -> tuple[str, str]:
    """'ko-KR' -> ('ko', 'KR'); the language drives text handling, the country the panel."""
    language, _, country = code.partition("-")
    return language.lower(), country.upper()
