"""Progress of a long step, for a terminal or for a job.

Long steps (copying an export's images, the sketch pairs, the LMDB) take a `progress`
argument: True draws a tqdm bar on the terminal (the CLI), False draws nothing, and a
callable `report(done, total)` is told how far the step is after each item — the Export
page's jobs (curate.jobs) pass one that writes the figures to the database and raises to
cancel. `bar()` gives the step one object with tqdm's `update()`/`close()` for all three.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Union

from tqdm import tqdm

Report = Callable[[int, int], None]  # (items done, items in all)
Progress = Union[bool, Report]


class Reported:
    """tqdm's update()/close() and iteration, telling `report` the count after each item."""

    def __init__(self, report: Report, total: int, iterable: Iterable | None = None):
        self.report, self.total, self.n, self.iterable = report, total, 0, iterable
        report(0, total)

    def update(self, n: int = 1) -> None:
        self.n += n
        self.report(self.n, self.total)

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator:
        for x in self.iterable or ():
            yield x
            self.update()


def bar(progress: Progress, *, total: int, desc: str, unit: str,
        iterable: Iterable | None = None) -> Any:
    """A progress bar for `total` items: tqdm when `progress` is True (hidden when False), or
    a Reported when it is a callable. Iterating it goes over `iterable` (default none)."""
    if callable(progress):
        return Reported(progress, total, iterable)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not progress)
