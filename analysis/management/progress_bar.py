"""A tqdm progress bar for the analysis commands, shown only on a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from analysis.services.aggregation import Progress


@contextmanager
def progress_bar(description: str, stream: TextIO) -> Iterator[Progress]:
    with tqdm(
        total=100,
        desc=description,
        unit="%",
        file=stream,
        disable=not stream.isatty(),
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    ) as bar:

        def report(percent: float) -> None:
            bar.update(max(0.0, percent - bar.n))

        yield report
