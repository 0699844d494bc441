"""``python -m trainers.stylegan LMDB [options]``: parse, validate, train."""

from __future__ import annotations

import json
import logging
import os
import sys

from .config import parse_settings
from .data import LMDBError


def main(argv: list[str] | None = None) -> int:
    lead = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 talks
    logging.basicConfig(level=logging.INFO if lead else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        cfg = parse_settings(argv).with_default_out()
        from .train import RunFolderError, check_run, train  # torch is imported only past parsing

        if cfg.dry_run:
            n, resume_from = check_run(cfg)
            print(json.dumps({**cfg.to_dict(), "images": n, "resume_from": str(resume_from or "")}, indent=2))
            return 0
        run_dir = train(cfg)
    except (ValueError, LMDBError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if lead:
        print(f"run folder: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
