"""``python -m trainers.pix2pix PAIRS_DIR [options]``: parse, print (--dry-run) or train. Wiring only."""
from __future__ import annotations

import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from trainers.pix2pix.config import parse_args

    try:
        cfg, dry_run = parse_args(argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if dry_run:  # settings only: the pairs are read (and TensorFlow loaded) by training
        print(json.dumps(cfg.to_json(), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from trainers.pix2pix.quiet import tensorflow_output

    print(f"writing the run to {cfg.out}", flush=True)
    with tensorflow_output():  # TF's harmless start-up lines filtered (quiet.py)
        from trainers.pix2pix.data import PairsError
        from trainers.pix2pix.train import train

        try:
            run_dir = train(cfg)
        except (PairsError, FileExistsError, FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    print(f"run folder: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
