"""`curate triage train`: learn the team's verdicts, then score every ingested image.

One function per phase (`train` runs them in order):
- read the targets (curate.triage.data) and refuse what cannot be learned from;
- load the pixels in worker processes that die with this one (files that no longer load are
  skipped and counted);
- split by image into train and held-out (stratified, seeded);
- fit the ranker (curate.triage.model) from scratch, seeded and deterministic on the CPU;
- judge it on the held-out images (curate.triage.metrics);
- save it atomically under the workspace, record it, and score every image.

Only one training runs per workspace at a time: a second one is refused while the first holds
`triage/train.lock` (an advisory lock the kernel drops when its holder dies, so a kill -9
leaves nothing behind that blocks the next run; its temp files are removed by the next run).
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from curate.triage import data as td
from curate.triage import metrics, store
from curate.triage.config import TrainConfig, TriageError
from curate.triage.model import Committee, Ranker, load, param_count, predict, residual_bytes, save
from curate.workspace import Workspace

log = logging.getLogger(__name__)

MIN_DECISIONS = 50  # images with an agreed verdict needed before a model is trained
SCORE_BATCH = 1024  # images per forward pass when scoring
LOAD_CHUNK = 256  # images per task handed to a decoding process

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class TrainReport:
    version: int = 0
    path: str = ""
    decisions_used: int = 0  # images with an agreed verdict that loaded
    accepts: int = 0
    disputed: int = 0  # left out: an accept beside a reject, not settled
    unreadable: int = 0  # images (with a verdict, or to score) whose file no longer loads
    scored: int = 0
    device: str = "cpu"
    train_seconds: float = 0.0
    score_seconds: float = 0.0
    figures: dict = field(default_factory=dict)

    def summary(self) -> str:
        f = self.figures
        auc = "n/a" if f.get("auc") is None else f"{f['auc']:.3f}"
        lines = [
            f"triage model {self.version} trained on {self.decisions_used:,} decided images "
            f"({self.accepts:,} accepted) in {self.train_seconds:.1f} s on {self.device}: "
            f"held-out AUC {auc}, precision among the top-scored "
            f"{_pct(f.get('precision_top_accepts'))}, calibration error "
            f"{_num(f.get('calibration', {}).get('ece'))}",
            f"scored {self.scored:,} images in {self.score_seconds:.1f} s; model file {self.path}"]
        if self.disputed:
            lines.append(f"left out {self.disputed:,} disputed images (settle them on Review)")
        if self.unreadable:
            lines.append(f"skipped {self.unreadable:,} images whose file no longer loads")
        return "\n".join(lines)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def pick_device(wanted: str) -> str:
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TriageError("--device cuda: no CUDA device is available")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


@contextlib.contextmanager
def training_lock(ws: Workspace) -> Iterator[None]:
    """Hold the workspace's training lock, or raise TriageError when another run holds it."""
    folder = store.triage_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise TriageError(f"a triage training is already running in this workspace "
                              f"(pid {holder}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        for stale in store.models_dir(ws).glob(".*.tmp"):  # a killed run's half-written file
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)


def load_images(inputs: td.Inputs, side: int, workers: int,
                progress: Progress | None = None, phase: str = "load") -> tuple[np.ndarray, np.ndarray]:
    """(pixels (n, 3, side, side) uint8, ok mask) for every input; failed loads are zeros."""
    n = len(inputs)
    pixels = np.zeros((n, 3, side, side), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    jobs = [(p, inputs.roots.get(p), side) for p in inputs.paths]
    for start, results in _decoded(jobs, workers):
        for k, raw in enumerate(results):
            if raw is not None:
                pixels[start + k] = np.frombuffer(raw, np.uint8).reshape(side, side, 3).transpose(2, 0, 1)
                ok[start + k] = True
        if progress:
            progress(phase, min(start + len(results), n), n)
    return pixels, ok


def _decoded(jobs: list, workers: int):
    """(start index, decoded results) per chunk, in order, from worker processes."""
    chunks = [(i, jobs[i:i + LOAD_CHUNK]) for i in range(0, len(jobs), LOAD_CHUNK)]
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(jobs) <= LOAD_CHUNK:
        for i, chunk in chunks:
            yield i, [td.load_pixels(j) for j in chunk]
        return
    from trainers.common.workers import worker_pool
    with worker_pool(workers) as pool:
        for (i, _), results in zip(chunks, pool.map(_load_chunk, [c for _, c in chunks])):
            yield i, results


def _load_chunk(chunk: list) -> list:
    return [td.load_pixels(j) for j in chunk]


def split(targets: td.Targets, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): each class shuffled with the seed, `share` of it held out."""
    rng = np.random.default_rng([seed, 7])
    train, held = [], []
    for cls in (0.0, 1.0):
        rows = np.flatnonzero(targets.accept == cls)
        rows = rows[rng.permutation(len(rows))]
        k = max(1, int(round(len(rows) * share))) if len(rows) > 1 else 0
        held.append(rows[:k])
        train.append(rows[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


MIN_STEPS = 2000  # fewer left the pose unlearned on the synthetic set (docs/triage.md)
MIN_EPOCHS = 8


def _epochs(cfg: TrainConfig, n_train: int) -> int:
    """By default at least MIN_STEPS steps and MIN_EPOCHS epochs (about 2,000 steps for 10,000
    decisions and as many pool images), at most 200 epochs."""
    if cfg.epochs:
        return cfg.epochs
    steps_per_epoch = max(1, -(-n_train // cfg.batch))
    return int(min(200, max(MIN_EPOCHS, -(-MIN_STEPS // steps_per_epoch))))


def fit(cfg: TrainConfig, pixels: torch.Tensor, attributes: torch.Tensor, targets: td.Targets,
        rows: np.ndarray, device: str, progress: Progress | None = None,
        weights: np.ndarray | None = None) -> Committee:
    """Train a new committee on `rows` of the targets (each row's loss times `weights`,
    default 1): `cfg.members` networks, one after the other, each from its own seeded start
    and in its own seeded order over the same rows."""
    x_all = pixels[rows]
    r_all = residual_bytes(x_all)  # once per image, not once per step (a quarter of a step)
    a_all = attributes[rows]
    y = torch.from_numpy(targets.accept[rows])
    w = torch.from_numpy((np.ones(len(targets), np.float32) if weights is None
                          else weights.astype(np.float32))[rows])
    r = torch.from_numpy(targets.rule[rows])
    t = torch.from_numpy(targets.tags[rows])
    epochs = _epochs(cfg, len(rows))
    steps_per_epoch = max(1, -(-len(rows) // cfg.batch))
    total = epochs * steps_per_epoch
    network = _network(cfg)
    trained: list[Ranker] = []
    step, steps = 0, total * cfg.members
    for m in range(cfg.members):
        seed = _member_seed(cfg.seed, m)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = Ranker(**network).to(device).to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total,
                                                    pct_start=0.2)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(rows), generator=gen)
            for k in range(0, len(rows), cfg.batch):
                idx = order[k:k + cfg.batch]
                if len(idx) < 2:  # batch norm needs two
                    continue
                x, res = _augment(x_all[idx], r_all[idx], gen)
                loss = _batch_loss(model, x, res, a_all[idx], y[idx], r[idx], t[idx], w[idx],
                                   device)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if progress and (step % 10 == 0 or step == steps):
                    progress("train", step, steps)
        trained.append(model.eval())
    return Committee.of(trained).eval()


def _batch_loss(model: Ranker, x, residual, attributes, y, rule, tags, weight,
                device: str) -> torch.Tensor:
    """One batch's loss: p(accept) weighted per image, the failed rule on rejections, the tags
    on accepts."""
    x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    residual = residual.to(device, non_blocking=True)
    accept, rules, tag_logits = model(x, attributes.to(device), residual)
    y, rule, tags, weight = y.to(device), rule.to(device), tags.to(device), weight.to(device)
    # Normalised by the batch's total weight: weak rejects from the pool share a batch without
    # thinning the decided images' gradient.
    loss = (F.binary_cross_entropy_with_logits(accept, y, reduction="none") * weight).sum() \
        / weight.sum()
    if bool((rule >= 0).any()):
        loss = loss + 0.5 * F.cross_entropy(rules[rule >= 0], rule[rule >= 0])
    if bool((y > 0.5).any()):
        loss = loss + 0.5 * F.binary_cross_entropy_with_logits(tag_logits[y > 0.5], tags[y > 0.5])
    return loss


def _network(cfg: TrainConfig) -> dict:
    """One member network's constructor arguments (also what the model file's metadata says of
    it, for `model.architecture`)."""
    return dict(side=cfg.side, n_attributes=td.N_ATTRIBUTES, n_rules=len(td.RULE_KEYS),
                n_tags=len(td.TAG_KEYS), width=cfg.width)


def _member_seed(seed: int, member: int) -> int:
    """Member 0 starts from the seed itself (as a one-network model of format 2 did); the
    others from seeds drawn from (seed, member) (torch's CPU generator keeps only the low
    32 bits of a seed, so seed + member << 32 would repeat member 0)."""
    if member == 0:
        return seed
    return int(np.random.SeedSequence([seed, member]).generate_state(1)[0])


def _augment(x: torch.Tensor, residual: torch.Tensor,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random horizontal flip per image and one random shift of up to 1/16 of the side per
    batch (faces turn either way; CelebA's alignment wanders by a few pixels), the same for
    the images and their mirror residuals."""
    both = torch.cat([x, residual], dim=1)
    flip = torch.rand(len(x), generator=gen) < 0.5
    both = torch.where(flip[:, None, None, None], both.flip(3), both)
    pad = max(1, x.shape[-1] // 16)
    dx, dy = (int(v) for v in torch.randint(-pad, pad + 1, (2,), generator=gen))
    both = torch.roll(both, shifts=(dy, dx), dims=(2, 3))
    return both[:, :3], both[:, 3:]


def infer(model: Committee, pixels: torch.Tensor, attributes: torch.Tensor, device: str):
    """p_accept, p_rules, p_tags as numpy arrays, in batches."""
    outs = [[], [], []]
    for k in range(0, len(pixels), SCORE_BATCH):
        x = pixels[k:k + SCORE_BATCH].to(device).contiguous(memory_format=torch.channels_last)
        for o, v in zip(outs, predict(model, x, attributes[k:k + SCORE_BATCH].to(device))):
            o.append(v.float().cpu().numpy())
    return tuple(np.concatenate(o) if o else np.zeros(0, np.float32) for o in outs)


def train(engine, ws: Workspace, cfg: TrainConfig = TrainConfig(),
          progress: Progress | None = None, score_after: bool = True) -> TrainReport:
    """Train a model on the standing verdicts, save and record it, then (by default) score
    every ingested image. Raises TriageError when there is nothing to learn from."""
    with training_lock(ws):
        return train_locked(engine, ws, cfg, progress, score_after)


def train_locked(engine, ws: Workspace, cfg: TrainConfig, progress: Progress | None,
                 score_after: bool) -> TrainReport:
    """`train` for a caller that already holds `training_lock` (the app's worker)."""
    report = TrainReport(device=pick_device(cfg.device))
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Read the targets.
    targets = td.read_targets(engine)
    report.disputed = targets.disputed
    _check_learnable(targets)
    inputs = td.read_inputs(engine, targets.image_ids)
    keep = np.isin(targets.image_ids, inputs.image_ids)
    targets = _subset(targets, keep)
    # Load the pixels.
    started = time.perf_counter()
    pixels, ok = load_images(inputs, cfg.side, cfg.workers, progress, "load")
    report.unreadable = int((~ok).sum())
    targets = _subset(targets, ok)
    pixels = torch.from_numpy(pixels[ok])
    attributes = torch.from_numpy(inputs.attributes[ok])
    _check_learnable(targets)
    report.decisions_used, report.accepts = len(targets), targets.accepted
    # Split, add weak rejects from the pool, fit.
    train_rows, held_rows = split(targets, cfg.held_out, cfg.seed)
    pool_pixels, pool_attributes = _pool_sample(engine, targets, cfg, int(len(train_rows) * cfg.pool))
    n = len(targets)
    k = len(pool_pixels)
    both = td.Targets(  # the decided images, then the pool's weak rejects
        image_ids=np.concatenate([targets.image_ids, np.full(k, -1, np.int64)]),
        accept=np.concatenate([targets.accept, np.zeros(k, np.float32)]),
        rule=np.concatenate([targets.rule, np.full(k, -1, np.int64)]),
        tags=np.concatenate([targets.tags, np.zeros((k, len(td.TAG_KEYS)), np.float32)]))
    weights = np.concatenate([np.ones(n, np.float32), np.full(k, cfg.pool_weight, np.float32)])
    model = fit(cfg, torch.cat([pixels, pool_pixels]), torch.cat([attributes, pool_attributes]),
                both, np.concatenate([train_rows, np.arange(n, n + k)]), report.device, progress,
                weights)
    report.train_seconds = round(time.perf_counter() - started, 2)
    # Judge it on the held-out images.
    p, _, _ = infer(model, pixels[held_rows], attributes[held_rows], report.device)
    figures = metrics.held_out_figures(p, targets.accept[held_rows])
    figures.update(train_images=int(len(train_rows)), pool_images=k,
                   train_seconds=report.train_seconds,
                   epochs=_epochs(cfg, len(train_rows) + k), parameters=param_count(model),
                   disputed_left_out=report.disputed, unreadable=report.unreadable)
    # Save, record, score.
    version = store.next_version(engine)
    rel = f"triage/models/{version:04d}.pt"
    meta = dict(version=version, **_network(cfg), members=cfg.members, rules=list(td.RULE_KEYS),
                tags=list(td.TAG_KEYS), seed=cfg.seed, decisions_used=report.decisions_used,
                config=asdict(cfg), figures=figures, torch=str(torch.__version__))
    save(model.cpu(), meta, ws.root / rel)
    store.record_model(engine, version=version, path=rel, decisions_used=report.decisions_used,
                       seed=cfg.seed, device=report.device, figures=figures)
    report.version, report.path, report.figures = version, str(ws.root / rel), figures
    if score_after:
        scored, unreadable, seconds = score_all(engine, ws, model.to(report.device), version,
                                                cfg.side, report.device, cfg.workers, progress)
        report.scored, report.score_seconds = scored, seconds
        report.unreadable = max(report.unreadable, unreadable)
    return report


def _pool_sample(engine, targets: td.Targets, cfg: TrainConfig, count: int):
    """(pixels, attributes) of up to `count` images nobody decided, drawn with the seed.

    Why: the first rounds are decided in attribute order, so a model trained on them alone
    has seen old faces only and ranks the young ones it never saw by pose alone (on the
    synthetic pool its first round found 32 % accepts where attribute order found 69 %). The
    undecided images are mostly rejects (CelebA: about 95 %); learnt as weak rejects, they show
    the model the whole pool without outweighing a single decision."""
    empty = (torch.zeros((0, 3, cfg.side, cfg.side), dtype=torch.uint8),
             torch.zeros((0, td.N_ATTRIBUTES)))
    if count <= 0:
        return empty
    ids = td.present_ids(engine)
    undecided = np.setdiff1d(ids, targets.image_ids, assume_unique=True)
    if not len(undecided):
        return empty
    rng = np.random.default_rng([cfg.seed, 11])
    chosen = np.sort(rng.choice(undecided, size=min(count, len(undecided)), replace=False))
    inputs = td.read_inputs(engine, chosen)
    pixels, ok = load_images(inputs, cfg.side, cfg.workers)
    return torch.from_numpy(pixels[ok]), torch.from_numpy(inputs.attributes[ok])


def _check_learnable(targets: td.Targets) -> None:
    n = len(targets)
    if n == 0:
        raise TriageError("no decisions to learn from yet: the model learns from accepted and "
                          "rejected images (skips and undone decisions do not count)")
    if n < MIN_DECISIONS:
        raise TriageError(f"only {n} images have an agreed verdict; triage needs at least "
                          f"{MIN_DECISIONS} to learn from")
    if targets.accepted in (0, n):
        only = "accepted" if targets.accepted else "rejected"
        raise TriageError(f"all {n} decided images were {only}: the model needs both accepts "
                          "and rejects to learn from")


def _subset(t: td.Targets, keep: np.ndarray) -> td.Targets:
    return td.Targets(t.image_ids[keep], t.accept[keep], t.rule[keep], t.tags[keep],
                      t.disputed, t.adjudicated)


def score_all(engine, ws: Workspace, model: Committee, version: int, side: int, device: str,
              workers: int = 0, progress: Progress | None = None) -> tuple[int, int, float]:
    """Score every ingested image with `model` into triage_scores; (scored, unreadable, s)."""
    started = time.perf_counter()
    inputs = td.read_inputs(engine)
    n = len(inputs)
    scored = unreadable = 0
    rows: list[dict] = []
    jobs = [(p, inputs.roots.get(p), side) for p in inputs.paths]
    for start, results in _decoded(jobs, workers):
        ok = np.array([r is not None for r in results], dtype=bool)
        unreadable += int((~ok).sum())
        if ok.any():
            raw = np.stack([np.frombuffer(r, np.uint8) for r in results if r is not None])
            x = torch.from_numpy(raw.reshape(-1, side, side, 3).transpose(0, 3, 1, 2).copy())
            a = torch.from_numpy(inputs.attributes[start:start + len(results)][ok])
            p, pr, pt = infer(model, x, a, device)
            ids = inputs.image_ids[start:start + len(results)][ok]
            for i, pa, rule_p, tag_p in zip(ids, p, pr, pt):
                best = int(rule_p.argmax())
                rows.append(dict(image_id=int(i), p_accept=float(pa), rule=td.RULE_KEYS[best],
                                 p_rule=float((1 - pa) * rule_p[best]),
                                 tags=[k for k, v in zip(td.TAG_KEYS, tag_p) if v > 0.5]))
            scored += int(ok.sum())
        if len(rows) >= store.SCORE_CHUNK:
            store.write_scores(engine, version, rows)
            rows = []
        if progress:
            progress("score", min(start + len(results), n), n)
    store.write_scores(engine, version, rows)
    return scored, unreadable, round(time.perf_counter() - started, 2)


def score_with_latest(engine, ws: Workspace, device: str = "auto", workers: int = 0,
                      progress: Progress | None = None) -> tuple[int, int, int, float]:
    """Score every image with the newest recorded model: (version, scored, unreadable, s)."""
    info = store.latest_model(engine)
    if info is None:
        raise TriageError("no triage model yet: run `curate triage train` first")
    path = (ws.root / info.path).resolve()
    if not path.is_relative_to(store.models_dir(ws).resolve()):
        raise TriageError(f"model {info.version}'s file is outside {store.models_dir(ws)}")
    dev = pick_device(device)
    with training_lock(ws):
        model, meta = load(path, dev)
        scored, unreadable, seconds = score_all(engine, ws, model, info.version,
                                                int(meta["side"]), dev, workers, progress)
    return info.version, scored, unreadable, seconds
