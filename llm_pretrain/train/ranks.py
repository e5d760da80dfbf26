"""Which process this is: torchrun's RANK and WORLD_SIZE count only together (a RANK left in
the environment of a plain command is one process, rank 0, not a rank waiting for others).
Apart from runtime.py so that the command line reads it without importing torch."""

from __future__ import annotations

import os


def launched() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def process_rank() -> int:
    return int(os.environ["RANK"]) if launched() else 0


def world_size() -> int:
    return int(os.environ["WORLD_SIZE"]) if launched() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if launched() else 0
