"""Term curation (docs/method.md, phase 2): from the chains' tags to a locale's rating terms.

Each grouping key found in the chains belongs to one Term through a TermAlias; researchers
merge and split those groups, rename and gloss them, exclude some, and select the top N by
score. The admin actions, the staff API and the tests all call these functions. Every change
is refused once the locale's terms are frozen (the rating phase has started).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from elicitation.models import ChainTag, TermAlias
from moodlab.errors import Invalid
from moodlab.studies.models import StudyLocale, Term, label_field_of


class TermsFrozenError(Invalid):
    """Curation refused because rating has started with these terms."""

    def __init__(self, locale: StudyLocale) -> None:
        super().__init__(
            {
                "terms": (
                    f"{locale.code}'s rating terms are frozen: the rating phase started on "
                    f"{locale.terms_frozen_at:%Y-%m-%d}, so they can no longer change."
                )
            }
        )


@dataclass
class _Group:
    frequency: int = 0
    ratings_sum: int = 0
    ratings_count: int = 0
    score: float = 0.0
    chains: set[int] = field(default_factory=set)
    songs: set[int] = field(default_factory=set)
    texts: Counter[str] = field(default_factory=Counter)


def terms_check_unfrozen(*, locale: StudyLocale) -> None:
    """Refuse curation of a frozen locale; forms ask it before they offer a save."""
    if locale.terms_frozen_at is not None:
        raise TermsFrozenError(locale)


def _lock_unfrozen(locale: StudyLocale) -> StudyLocale:
    locked = StudyLocale.objects.select_for_update().select_related("study").get(pk=locale.pk)
    terms_check_unfrozen(locale=locked)
    return locked


def key_groups(locale: StudyLocale) -> dict[str, _Group]:
    """Per grouping key: occurrences across chains, rating sums (flags as 0), chains, songs."""
    groups: dict[str, _Group] = defaultdict(_Group)
    rows = ChainTag.objects.filter(locale=locale).values_list(
        "key", "text", "chain_id", "chain__song_id", "ratings_sum", "ratings_count"
    )
    for key, text, chain_id, song_id, ratings_sum, ratings_count in rows.iterator(chunk_size=2000):
        group = groups[key]
        group.frequency += 1
        group.ratings_sum += ratings_sum
        group.ratings_count += ratings_count
        group.chains.add(chain_id)
        group.songs.add(song_id)
        group.texts[text] += 1
    for group in groups.values():
        if group.ratings_count:
            group.score = group.frequency * group.ratings_sum / group.ratings_count
    return groups


def _most_typed(texts: Counter[str]) -> str:
    return min(texts.items(), key=lambda item: (-item[1], item[0]))[0]


@transaction.atomic
def terms_recompute(*, locale: StudyLocale) -> list[Term]:
    """Recompute the locale's term table from its chains; new keys become new terms.

    frequency = occurrences across chains, mean_rating = mean star rating with flags as 0,
    score = sum over the term's merged keys of (key frequency × key mean). Terms that no
    chain produced (imported ones) are left as they are.
    """
    locale = _lock_unfrozen(locale)
    groups = key_groups(locale)
    label_field = label_field_of(locale)
    terms = {term.key: term for term in locale.terms.all()}
    aliases = dict(TermAlias.objects.filter(locale=locale).values_list("key", "term_id"))
    for key, group in groups.items():
        if key in aliases:
            continue
        term = terms.get(key)
        if term is None:
            label = _most_typed(group.texts)
            term = Term.objects.create(locale=locale, key=key, **{label_field: label})
            terms[key] = term
        TermAlias.objects.create(locale=locale, key=key, term=term)
        aliases[key] = term.pk
    keys_of: dict[int, list[str]] = defaultdict(list)
    for key, term_id in aliases.items():
        keys_of[term_id].append(key)
    changed = []
    for term in terms.values():
        if term.pk not in keys_of:
            continue
        merged = [groups[key] for key in keys_of[term.pk] if key in groups]
        ratings_count = sum(group.ratings_count for group in merged)
        term.frequency = sum(group.frequency for group in merged)
        term.mean_rating = (
            sum(group.ratings_sum for group in merged) / ratings_count if ratings_count else None
        )
        term.score = sum(group.score for group in merged)
        term.chain_count = len(set().union(*(group.chains for group in merged)))
        term.song_count = len(set().union(*(group.songs for group in merged)))
        changed.append(term)
    Term.objects.bulk_update(
        changed, ["frequency", "mean_rating", "score", "chain_count", "song_count"]
    )
    return changed


@dataclass(frozen=True)
class MergeOutcome:
    """A merge and its effect on the surviving term, for the researcher to read."""

    term: Term
    merged: list[str]
    score_before: float
    rank_before: int | None

    def describe(self) -> str:
        rank = (
            f"; rank {self.rank_before} → {self.term.rank}"
            if self.rank_before and self.term.rank and self.rank_before != self.term.rank
            else ""
        )
        return (
            f"Merged {', '.join(self.merged)} into “{self.term.label}”: score "
            f"{self.score_before:.1f} → {self.term.score:.1f}{rank}. Select the top terms "
            "again to rank by the new scores."
        )


@transaction.atomic
def terms_merge(
    *, locale: StudyLocale, term_ids: Sequence[int], into_id: int | None = None
) -> MergeOutcome:
    """Merge terms of one locale into one; the others' keys follow it and they go.

    The admin's actions, its curation page and the API all merge through here, so the
    checks are the same everywhere: the locale is not frozen, every id is one of its terms,
    and the term merged into is one of them and not excluded (an excluded term would take
    the others out of the selection with it). By default it is the best scored of them.
    """
    locale = _lock_unfrozen(locale)
    wanted = set(term_ids)
    if len(wanted) < 2:
        raise Invalid({"terms": "Select at least two terms to merge."})
    terms = list(locale.terms.select_related("locale").filter(pk__in=wanted))
    foreign = sorted(wanted - {term.pk for term in terms})
    if foreign:
        raise Invalid(
            {
                "terms": f"Only terms of {locale.code} can be merged; not among them: "
                + ", ".join(map(str, foreign))
                + "."
            }
        )
    into = _merge_target(terms, into_id)
    score_before, rank_before = into.score, into.rank
    others = [term for term in terms if term.pk != into.pk]
    for other in others:
        TermAlias.objects.update_or_create(locale=locale, key=other.key, defaults={"term": into})
        TermAlias.objects.filter(term=other).update(term=into)
    Term.objects.filter(pk__in=[term.pk for term in others]).delete()
    terms_recompute(locale=locale)
    into.refresh_from_db()
    return MergeOutcome(
        term=into,
        merged=[term.key for term in others],
        score_before=score_before,
        rank_before=rank_before,
    )


def _merge_target(terms: list[Term], into_id: int | None) -> Term:
    if into_id is None:
        candidates = [term for term in terms if not term.is_excluded]
        if not candidates:
            raise Invalid({"into": "Every term here is excluded: include the one to keep first."})
        return max(candidates, key=lambda term: (term.score, -term.pk))
    into = next((term for term in terms if term.pk == into_id), None)
    if into is None:
        raise Invalid({"into": "Merge into one of the terms merged."})
    if into.is_excluded:
        raise Invalid(
            {"into": f"“{into.key}” is excluded: include it again, or merge into another term."}
        )
    return into


@transaction.atomic
def term_split(*, term: Term, keys: Sequence[str] | None = None) -> list[Term]:
    """Give merged keys back their own terms (all but the term's own key by default)."""
    locale = _lock_unfrozen(term.locale)
    aliases = TermAlias.objects.filter(term=term).exclude(key=term.key)
    if keys is not None:
        unknown = set(keys) - set(aliases.values_list("key", flat=True))
        if unknown:
            raise Invalid({"keys": f"Not merged into {term.key!r}: {', '.join(sorted(unknown))}."})
        aliases = aliases.filter(key__in=keys)
    label_field = label_field_of(locale)
    split = []
    for alias in aliases:
        label = (
            ChainTag.objects.filter(locale=locale, key=alias.key)
            .values_list("text", flat=True)
            .order_by("text")
            .first()
        ) or alias.key
        new_term = Term.objects.create(locale=locale, key=alias.key, **{label_field: label})
        alias.term = new_term
        alias.save(update_fields=["term"])
        split.append(new_term)
    terms_recompute(locale=locale)
    return list(Term.objects.filter(pk__in=[term.pk for term in split]).order_by("key"))


@transaction.atomic
def term_rename(*, term: Term, label: str | None = None, gloss: str | None = None) -> Term:
    """Set the canonical label (in the locale's language) and/or its English gloss."""
    locale = _lock_unfrozen(term.locale)
    values: dict[str, str] = {}
    if label is not None:
        label = label.strip()
        if not label or "<" in label or ">" in label:
            raise Invalid({"label": "Enter a label without < or >."})
        values[label_field_of(locale)] = label[:100]
    if gloss is not None:
        values["label_en"] = gloss.strip()[:100]
    Term.objects.filter(pk=term.pk).update(**values)
    term.refresh_from_db()
    return term


@transaction.atomic
def term_update(
    *,
    term: Term,
    label: str | None = None,
    gloss: str | None = None,
    excluded: bool | None = None,
    selected: bool | None = None,
) -> Term:
    """Apply what a term's edit asks (rename, gloss, exclude, select): all of it, or none."""
    if label is not None or gloss is not None:
        term = term_rename(term=term, label=label, gloss=gloss)
    if excluded is not None:
        term = term_set_excluded(term=term, excluded=excluded)
    if selected is not None:
        term = term_set_selected(term=term, selected=selected)
    return term


@transaction.atomic
def term_set_excluded(*, term: Term, excluded: bool) -> Term:
    """Exclude a term from the selection (or bring it back); excluded terms are never rated."""
    _lock_unfrozen(term.locale)
    if excluded:
        Term.objects.filter(pk=term.pk).update(is_excluded=True, is_selected=False, rank=None)
    else:
        Term.objects.filter(pk=term.pk).update(is_excluded=False)
    term.refresh_from_db()
    return term


@transaction.atomic
def term_set_selected(*, term: Term, selected: bool) -> Term:
    """Edit the selection by hand, after or instead of `terms_select_top`."""
    _lock_unfrozen(term.locale)
    if selected and term.is_excluded:
        raise Invalid({"is_selected": "An excluded term cannot be selected."})
    Term.objects.filter(pk=term.pk).update(is_selected=selected)
    term.refresh_from_db()
    return term


@transaction.atomic
def terms_select_top(*, locale: StudyLocale, count: int | None = None) -> list[Term]:
    """Select the top N terms by score (N = the study's terms_per_locale), rank the rest."""
    locale = _lock_unfrozen(locale)
    count = locale.study.terms_per_locale if count is None else count
    if count < 1:
        raise Invalid({"count": "Select at least one term."})
    ranked = list(locale.terms.filter(is_excluded=False).order_by("-score", "key"))
    for rank, term in enumerate(ranked, start=1):
        term.rank = rank
        term.is_selected = rank <= count
    Term.objects.bulk_update(ranked, ["rank", "is_selected"])
    locale.terms.filter(is_excluded=True).update(rank=None, is_selected=False)
    return ranked[:count]
