"""The run's metrics: one JSON object per line in OUT/metrics.jsonl, optionally TensorBoard.

Training lines carry `step`, `loss`, `lr`, `grad_norm`, `tokens`, `tokens_per_s`, `mfu`,
`peak_mem_gib`, `elapsed_s`; evaluation lines `step`, `val_loss`, `val_ppl`, `val_bpb` (bits per
byte). A mixture's lines add `tokens/NAME` and `val_loss/NAME`, `val_bpb/NAME` per source. A
resumed run first drops the lines of steps after its checkpoint (written by the run that was
killed), so the file reads as if the run had never stopped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from llm_pretrain.storage import atomic_write_bytes
from llm_pretrain.train.runtime import TrainError

METRICS_FILE = "metrics.jsonl"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a metrics file (a torn last line from a kill is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Appends records; only the main process writes."""

    def __init__(self, out: Path, keep_through_step: int, tensorboard: bool, enabled: bool):
        self.path = out / METRICS_FILE
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= keep_through_step]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())
        self.handle = self.path.open("a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise TrainError(
                    "log.tensorboard needs the tensorboard package: "
                    "pip install 'llm-pretrain[tensorboard]'"
                ) from None
            self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=keep_through_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {key: _clean(value) for key, value in record.items()}
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if not self.enabled:
            return
        self.handle.close()
        if self.writer is not None:
            self.writer.close()
