"""``python -m trainers.stylegan LMDB [options]``: parse, validate, print (--dry-run) or train."""

from __future__ import annotations

import json
import logging
import os
import sys

from .config import parse_args


def main(argv: list[str] | None = None) -> int:
    lead = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 talks
    logging.basicConfig(level=logging.INFO if lead else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        cfg, dry_run = parse_args(argv)
        from .train import check_run, train  # torch is imported only past parsing

        if dry_run:
            n, resume_from = check_run(cfg)
            print(json.dumps({**cfg.to_dict(), "images": n, "resume_from": str(resume_from or "")}, indent=2))
            return 0
        if lead:
            print(f"writing the run to {cfg.out}", flush=True)
        run_dir = train(cfg)
    except (ValueError, FileNotFoundError) as e:  # data.LMDBError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    if lead:
        print(f"run folder: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
