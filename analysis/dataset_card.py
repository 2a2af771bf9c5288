"""What a snapshot says about itself for people and tools: the dataset card, CITATION.cff,
BibTeX and Croissant 1.0 metadata (JSON-LD, MLCommons).

Everything is built from the snapshot's manifest (tables, columns, counts, quality rules)
and the study's publication fields (licence, citation), so the files agree with each other
and with the data. `croissant.json` names files relative to itself; the API serves it with
absolute download URLs (analysis/api/views.py, SnapshotCroissantApi).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from analysis.models import ExclusionDecision, Snapshot
from analysis.selectors import study_terms_table
from moodlab.studies.models import Study

CARD_FILES = ("DATASET_CARD.md", "CITATION.cff", "CITATION.bib", "croissant.json")
CROISSANT_CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# The Croissant 1.0 JSON-LD context, as the specification gives it.
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_CROISSANT_TYPES = {
    "string": "sc:Text",
    "bool": "sc:Boolean",
    "double": "sc:Float",
    "float": "sc:Float",
}
_LICENCE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "MIT": "https://opensource.org/license/mit",
}
_ENCODINGS = {".csv": "text/csv", ".parquet": "application/x-parquet"}

# The recipe the card gives for recomputing mean_ratings from the raw tables; a test runs it.
MEANS_RECIPE = """\
import pandas as pd

ratings = pd.read_parquet("ratings.parquet")
participants = pd.read_parquet("participants.parquet")
counted = participants.loc[~participants["excluded"], "participant"]
kept = ratings[ratings["participant"].isin(counted) & ~ratings["is_repeat"]]
means = kept.groupby(["locale", "song_id", "term_id"])["value"].agg(["count", "mean"])
"""


def write_card_files(
    folder: Path, *, snapshot: Snapshot, manifest: dict[str, Any], sha256: Callable[[Path], str]
) -> None:
    """Write the card, the citation files and croissant.json beside the snapshot's tables."""
    citation = _citation(snapshot.study, manifest)
    (folder / "CITATION.cff").write_text(_citation_cff(citation), encoding="utf-8")
    (folder / "CITATION.bib").write_text(_bibtex(citation), encoding="utf-8")
    (folder / "DATASET_CARD.md").write_text(_card(snapshot, manifest, citation), encoding="utf-8")
    croissant = _croissant(manifest, citation, folder, sha256)
    (folder / "croissant.json").write_text(
        json.dumps(croissant, indent=2, ensure_ascii=False), encoding="utf-8"
    )


def _citation(study: Study, manifest: dict[str, Any]) -> dict[str, Any]:
    """Who and what to cite: the study's citation fields, else its researchers and title."""
    authors = [line.strip() for line in study.citation_authors.splitlines() if line.strip()] or [
        f"{user.last_name}, {user.first_name}" if user.last_name else user.get_username()
        for user in get_user_model().objects.filter(studies=study).order_by("last_name", "pk")
    ]
    created = str(manifest["created_at"])
    return {
        "title": study.citation_title or study.title,
        "authors": authors or [f"MoodLab study {study.slug}"],
        "year": study.citation_year or int(created[:4]),
        "date": created[:10],
        "version": f"{manifest['version']}.0.0",
        "doi": study.doi,
        "licence": study.licence,
        "key": f"{study.slug.replace('-', '_')}_v{manifest['version']}",
    }


def _split_author(author: str) -> tuple[str, str]:
    family, _comma, given = author.partition(",")
    return family.strip(), given.strip()


def _yaml_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _citation_cff(citation: dict[str, Any]) -> str:
    lines = [
        "cff-version: 1.2.0",
        'message: "If you use this dataset, please cite it as below."',
        "type: dataset",
        f"title: {_yaml_text(citation['title'])}",
        "authors:",
    ]
    for author in citation["authors"]:
        family, given = _split_author(author)
        if given:
            lines += [
                f"  - family-names: {_yaml_text(family)}",
                f"    given-names: {_yaml_text(given)}",
            ]
        else:
            lines += [f"  - name: {_yaml_text(family)}"]
    lines += [
        f"version: {_yaml_text(citation['version'])}",
        f"date-released: {_yaml_text(citation['date'])}",
        f"license: {citation['licence']}",
    ]
    if citation["doi"]:
        lines.append(f"doi: {_yaml_text(citation['doi'])}")
    return "\n".join(lines) + "\n"


def _bibtex_text(text: str) -> str:
    return "".join("\\" + char if char in "{}&%$#_" else char for char in text)


def _bibtex(citation: dict[str, Any]) -> str:
    fields = {
        "author": " and ".join(_bibtex_text(author) for author in citation["authors"]),
        "title": _bibtex_text(citation["title"]),
        "year": str(citation["year"]),
        "version": citation["version"],
        "note": f"Dataset, licence {citation['licence']}",
    }
    if citation["doi"]:
        fields["doi"] = citation["doi"]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
    return f"@misc{{{citation['key']},\n{body}\n}}\n"


def _exclusions_per_rule(study: Study) -> Counter[str]:
    counts: Counter[str] = Counter()
    for reasons in ExclusionDecision.objects.filter(study=study, excluded=True).values_list(
        "reasons", flat=True
    ):
        counts.update({reason["rule"] for reason in reasons})
    return counts


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _card(snapshot: Snapshot, manifest: dict[str, Any], citation: dict[str, Any]) -> str:
    study = snapshot.study
    tables = manifest["tables"]
    parameters = manifest["study"]["parameters"]
    parquet_tables = sorted(tables)
    front_matter = [
        "---",
        f"license: {citation['licence'].lower()}",
        f"pretty_name: {_yaml_text(citation['title'])}",
        "configs:",
        *[
            line
            for name in parquet_tables
            for line in (f"  - config_name: {name}", f"    data_files: {name}.parquet")
        ],
        "---",
    ]
    lines = [
        *front_matter,
        "",
        f"# {citation['title']} (snapshot v{manifest['version']})",
        "",
        study.description or "Mood ratings of songs by listeners in several locales.",
        "",
        f"Study `{study.slug}`, exported {manifest['created_at']} by MoodLab "
        f"{manifest['software_version']}. Locales: {', '.join(manifest['locales'])}.",
        "",
        "## Licence",
        "",
        f"{citation['licence']} ({_LICENCE_URLS.get(citation['licence'], '')}).",
        "",
        "## Citation",
        "",
        "`CITATION.cff` and `CITATION.bib` beside this card hold the citation:",
        "",
        "```bibtex",
        _bibtex(citation).rstrip(),
        "```",
        "",
        "## How the data were made",
        "",
        "**Elicitation.** Listeners heard each clip and, in iterative chains of up to "
        f"{parameters.get('max_turns_per_chain')} turns per chain, rated the tags earlier "
        "listeners had typed (1–5, or flagged them) and added their own free-text mood tags. "
        "Tags were normalised per language into grouping keys; a key froze once "
        f"{parameters.get('freeze_min_ratings')} ratings averaged at least "
        f"{parameters.get('freeze_min_mean')}, and was hidden after "
        f"{parameters.get('hide_flag_count')} flags.",
        "",
        "**Curation.** Per locale, researchers scored the grouping keys (frequency × mean "
        "rating), merged keys that name the same mood, gave each term an English gloss and "
        f"selected the top {parameters.get('terms_per_locale')} terms (table below). A study "
        "may also import its terms instead of eliciting them.",
        "",
        f"**Rating.** Each participant rated songs on {parameters.get('terms_per_participant')} "
        f"of their locale's terms, 1 (not at all) to 5 (extremely), in up to "
        f"{parameters.get('trials_per_participant')} trials plus {parameters.get('repeat_trials')} "
        "repeat trial(s) of an earlier song as a consistency check. Songs were allocated "
        "least-rated first.",
        "",
        "**Quality control.** Each rule below is named and versioned; a participant failing an "
        "enabled rule is excluded (a researcher may override, recorded in "
        "`participants.override`). Excluded participants stay in every table, marked in "
        "`participants.excluded`.",
        "",
        "| rule | version | enabled | what it checks | parameters | participants excluded |",
        "|---|---|---|---|---|---|",
    ]
    excluded = _exclusions_per_rule(study)
    rules = manifest["quality_control"]["rules"]
    lines += [
        f"| {r['name']} | {r['version']} | {'yes' if r['enabled'] else 'no'} | {_md(r['title'])} "
        f"| {_md(json.dumps(r['params']))} | {excluded.get(r['name'], 0)} |"
        for r in rules
    ] or ["| (no quality run yet) | | | | | 0 |"]
    lines += [
        "",
        "## The published means, and how to recompute them",
        "",
        "`mean_ratings` averages, per locale × song × term, the ratings of participants whose "
        "`excluded` is false, **without the repeat trials** (`is_repeat` true), which only check "
        "consistency. `sd` and `sem` are empty when n = 1. From the raw tables:",
        "",
        "```python",
        MEANS_RECIPE.rstrip(),
        "```",
        "",
        "## Terms",
        "",
        "| locale | label as shown | English gloss | grouping key | merged keys | rank |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row['locale']} | {_md(row['label'])} | {_md(row['gloss'])} | {_md(row['key'])} "
        f"| {_md(row['merged_keys'].replace(';', ', '))} "
        f"| {'' if row['rank'] is None else row['rank']} |"
        for row in study_terms_table(study=study)
    ]
    lines += [
        "",
        "## Counts per locale",
        "",
        "| table | " + " | ".join(manifest["locales"]) + " | total |",
        "|---|" + "---|" * (len(manifest["locales"]) + 1),
    ]
    for name, table in tables.items():
        per_locale = table.get("rows_per_locale", {})
        cells = [str(per_locale.get(code, "")) for code in manifest["locales"]]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {table['rows']} |")
    lines += ["", "## Column dictionary", ""]
    for name, table in tables.items():
        lines += [f"### {name}", "", table["description"], ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        lines += [
            f"| {c['name']} | {c['type']} | {_md(c['description'])} |" for c in table["columns"]
        ]
        lines.append("")
    lines += [
        "## Known limitations",
        "",
        "- Participants were recruited through online panels per locale; they represent "
        "those panels' members, not whole countries or languages.",
        "- Terms differ between locales: compare locales through the English glosses, which "
        "are translations chosen by researchers, not equivalences measured in the data.",
        "- Songs were heard as short clips (`songs.clip_seconds`), not whole recordings; "
        "the audio itself is not part of the dataset.",
        "- Pseudonyms (P0001…) are stable within this snapshot only; they cannot be linked "
        "across snapshots or to panel ids, which are never exported.",
        "- Cells with few ratings (`n`) give imprecise means: weigh by `n` or use `sem`.",
        "",
    ]
    return "\n".join(lines)


def _croissant(
    manifest: dict[str, Any],
    citation: dict[str, Any],
    folder: Path,
    sha256: Callable[[Path], str],
) -> dict[str, Any]:
    distribution = []
    for path in sorted(folder.iterdir()):
        if path.suffix in _ENCODINGS:
            distribution.append(
                {
                    "@type": "cr:FileObject",
                    "@id": path.name,
                    "name": path.name,
                    "contentUrl": path.name,
                    "encodingFormat": _ENCODINGS[path.suffix],
                    "sha256": sha256(path),
                }
            )
    record_sets = [
        {
            "@type": "cr:RecordSet",
            "@id": name,
            "name": name,
            "description": table["description"],
            "field": [
                {
                    "@type": "cr:Field",
                    "@id": f"{name}/{column['name']}",
                    "name": column["name"],
                    "description": column["description"],
                    "dataType": _CROISSANT_TYPES.get(
                        column["type"], "sc:Integer" if "int" in column["type"] else "sc:Text"
                    ),
                    "source": {
                        "fileObject": {"@id": f"{name}.parquet"},
                        "extract": {"column": column["name"]},
                    },
                }
                for column in table["columns"]
            ],
        }
        for name, table in manifest["tables"].items()
        if (folder / f"{name}.parquet").exists()
    ]
    document: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_CONFORMS_TO,
        "name": manifest["study"]["slug"],
        "alternateName": citation["title"],
        "description": (
            f"{citation['title']}: mood ratings of songs by listeners in "
            f"{', '.join(manifest['locales'])}; raw ratings, means per song × term × locale, "
            "participants, songs and elicitation chains (MoodLab snapshot "
            f"v{manifest['version']})."
        ),
        "license": _LICENCE_URLS.get(citation["licence"], citation["licence"]),
        "url": "DATASET_CARD.md",
        "version": citation["version"],
        "datePublished": citation["date"],
        "citeAs": _bibtex(citation),
        "creator": [
            {"@type": "sc:Person", "name": " ".join(reversed(_split_author(a))).strip()}
            for a in citation["authors"]
        ],
        "inLanguage": manifest["locales"],
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if citation["doi"]:
        document["sameAs"] = f"https://doi.org/{citation['doi']}"
    return document
