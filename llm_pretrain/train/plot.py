"""`llm-train plot RUN_DIR`: the loss curves of a run as a PNG, from its metrics.jsonl."""

from __future__ import annotations

from pathlib import Path

from llm_pretrain.pipeline.outputs import written_by_us
from llm_pretrain.storage import atomic_path
from llm_pretrain.train.metrics import METRICS_FILE, read_metrics
from llm_pretrain.train.runtime import TrainError

SOFTWARE = "llm-pretrain plot"  # in the PNG's metadata; an existing file without it is kept


def plot_run(run_dir: Path, output: Path | None = None) -> Path:
    """Training loss per step, validation loss at each evaluation, learning rate below."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (cron, servers)
    import matplotlib.pyplot as plt

    output = output or run_dir / "loss.png"
    # Plots of versions before the tag carry matplotlib's own (in the run's default file only).
    earlier = [b"Software\x00Matplotlib"] if output == run_dir / "loss.png" else []
    if not written_by_us(output, SOFTWARE.encode(), *earlier):
        raise TrainError(f"{output} exists and was not written by llm-train plot; choose another")
    records = read_metrics(run_dir / METRICS_FILE)
    train = [r for r in records if r.get("loss") is not None]
    val = [r for r in records if r.get("val_loss") is not None]
    if not train and not val:
        raise TrainError(f"{run_dir / METRICS_FILE} holds no losses to plot")
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    if train:
        top.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", lw=1)
        bottom.plot([r["step"] for r in train], [r["lr"] for r in train], color="gray", lw=1)
    if val:
        top.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation")
    top.set_ylabel("loss (nats per token)")
    top.set_title(run_dir.resolve().name)
    top.grid(alpha=0.3)
    top.legend()
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(output) as tmp:
        figure.savefig(tmp, format="png", dpi=120, metadata={"Software": SOFTWARE})
    plt.close(figure)
    return output
