"""`curate triage train | score | status`: the command line's side of triage.

Progress shows as one tqdm bar per phase (loading the decided images, training, scoring) on a
terminal. Imports torch only for `train` and `score`.
"""
from __future__ import annotations

import sys

from curate.triage.config import TriageError, from_flags


class _Bars:
    """A tqdm bar per phase, opened on the phase's first report."""

    LABELS = {"load": "load decided images", "train": "train (steps)", "score": "score images"}

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars: dict = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm
        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = tqdm(total=total, desc=self.LABELS.get(phase, phase),
                                          unit="img" if phase != "train" else "step")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run(a, ws, CliError) -> int:
    engine = ws.open()
    if a.action == "status":
        print(status_text(engine))
        return 0
    bars = _Bars(sys.stderr.isatty())
    try:
        from curate.triage.model import TriageModelError
        from curate.triage import train as tt
        if a.action == "train":
            report = tt.train(engine, ws, from_flags(a), progress=bars)
            print(report.summary())
        else:
            version, scored, unreadable, seconds = tt.score_with_latest(
                engine, ws, a.device, a.workers, progress=bars)
            print(f"scored {scored:,} images with triage model {version} in {seconds:.1f} s"
                  + (f"; skipped {unreadable:,} whose file no longer loads" if unreadable else ""))
    except (TriageError, TriageModelError) as e:
        raise CliError(str(e)) from None
    finally:
        bars.close()
    return 0


def status_text(engine) -> str:
    from curate.triage import rounds, store
    info = store.latest_model(engine)
    if info is None:
        head = "no triage model yet: `curate triage train` learns from the decisions made"
    else:
        f = info.figures
        auc = f.get("auc")
        head = (f"triage model {info.version}, trained {info.trained_at:%Y-%m-%d %H:%M} UTC on "
                f"{info.decisions_used:,} decided images ({info.device}): held-out AUC "
                f"{'n/a' if auc is None else f'{auc:.3f}'}; {info.scored:,} images carry its scores")
    return head + "\n" + rounds.looks_report(engine).summary()
