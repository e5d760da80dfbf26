"""`llm-train export`: a checkpoint as a Hugging Face `LlamaForCausalLM` folder.

    HF_DIR/model.safetensors                 the weights (or model-0000K-of-0000N.safetensors
                                             and model.safetensors.index.json above the limit)
    HF_DIR/config.json                       LlamaForCausalLM: sizes, GQA heads, rope theta,
                                             norm eps, tied embeddings, bos/eos ids
    HF_DIR/generation_config.json            bos/eos ids
    HF_DIR/tokenizer.json, tokenizer_config.json
    HF_DIR/llm_pretrain_export.json          where it came from (checkpoint, step); marks the
                                             folder as one export may replace

The sharded checkpoint is gathered in one process on the CPU (DCP reads any shard layout
without a process group), so export needs no GPU and no torchrun. Names and config fields
are translated by `hf_mapping` (a tied output matrix is written once, as
`model.embed_tokens.weight`, as transformers expects with `tie_word_embeddings`). The output is
safetensors and JSON only: nothing in it is unpickled when loaded.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from llm_pretrain import __version__
from llm_pretrain.pipeline.outputs import foreign_entries, overlap_problem, protected_problem
from llm_pretrain.storage import atomic_write_json, fsync_dir, temporary_path
from llm_pretrain.tokenizer.bpe import CONFIG_FILE, TOKENIZER_FILE
from llm_pretrain.train.checkpoint import (
    find_checkpoint,
    read_model_config,
    read_state,
    single_process_quietly,
)
from llm_pretrain.train.checkpoint_check import intact_checkpoint
from llm_pretrain.train.hf_mapping import to_hf_config, to_hf_weights
from llm_pretrain.train.integrity import check_finite
from llm_pretrain.train.model import Transformer, empty_model
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.safe_dcp import read_sharded

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
TOKENIZER_FILES = (TOKENIZER_FILE, CONFIG_FILE)


def load_model(checkpoint: Path) -> tuple[Transformer, dict[str, Any]]:
    """The whole model of a checkpoint (or of a run's latest) on the CPU, and its state.

    A damaged checkpoint (files that differ from their records) and weights that are not
    finite are refused as a TrainError."""
    checkpoint = intact_checkpoint(checkpoint)
    model = empty_model(read_model_config(checkpoint))
    state = {"model": model.state_dict()}  # DCP loads into these tensors, the model's own
    with single_process_quietly():
        read_sharded(state, checkpoint, no_dist=True)
    check_finite(state["model"], checkpoint)
    return model, {**read_state(checkpoint), "path": str(checkpoint)}


def _shards(tensors: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    """Tensors in name order, cut into groups of at most max_bytes (a bigger tensor alone)."""
    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > max_bytes:
            groups.append({})
            size = 0
        groups[-1][name] = tensor
        size += nbytes
    return groups


def _eot_id(checkpoint: Path) -> int | None:
    """The end-of-text id, from the tokenizer file the checkpoint carries."""
    path = checkpoint / "tokenizer.json"
    if not path.is_file():
        return None
    vocabulary = json.loads(path.read_text(encoding="utf-8")).get("added_tokens", [])
    for token in vocabulary:
        if token.get("content") == "<|endoftext|>":
            return int(token["id"])
    return None


EXPORT_MARKER = "llm_pretrain_export.json"  # names a folder this command wrote (and may replace)


def _run_folder(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint lives in (`RUN/checkpoints/step-N`), if it does."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


def _written(folder: Path) -> set[str]:
    """The files an earlier export says it wrote into `folder` (empty: not an export)."""
    try:
        return set(json.loads((folder / EXPORT_MARKER).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def refuse_overlap(given: Path, checkpoint: Path, out: Path) -> None:
    """An `out` that is, contains or lies inside what is read, or `.`, `~`, `/`: always."""
    sources = [given, checkpoint, *filter(None, [_run_folder(checkpoint)])]
    problem = overlap_problem(out, sources, "--out", "checkpoint or run folder")
    problem = problem or protected_problem(out, "--out")
    if problem:
        raise TrainError(problem)
    if out.exists() and not out.is_dir():
        raise TrainError(f"--out {out} is a file, not a folder")


def refuse_foreign(out: Path, overwrite: bool) -> None:
    """Without `overwrite`, an `out` holding files this command did not write: a folder of
    other files, or an earlier export to which files were added since (a model card)."""
    foreign = foreign_entries(out, [EXPORT_MARKER, *_written(out)])
    if foreign and not overwrite:
        raise TrainError(
            f"--out {out} holds files that llm-train export did not write ({foreign[0]}, ...); "
            "choose another folder, or pass --overwrite to replace it"
        )


def _old_copies(out: Path) -> list[Path]:
    """Earlier exports set aside by a replacement that did not finish (`_publish`)."""
    return [path for path in out.parent.glob(f".{out.name}.old-[0-9]*") if _written(path)]


def _recover(out: Path) -> None:
    """Finish what a killed export left: its temporaries go; an earlier export set aside while
    `out` was being replaced comes back, or goes once the new one is in place."""
    for stale in out.parent.glob(f".{out.name}.tmp-[0-9]*"):  # ours: temporary_path()
        shutil.rmtree(stale, ignore_errors=True)
    for old in sorted(_old_copies(out)):
        if out.exists():
            shutil.rmtree(old)
        else:
            old.rename(out)


def _publish(tmp: Path, out: Path) -> None:
    """Make the finished folder `tmp` appear as `out`, replacing an earlier one; a kill between
    the two renames leaves the earlier one aside, where the next export restores it."""
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old)


def export(
    checkpoint: Path,
    out: Path,
    dtype: str = "bf16",
    max_shard_bytes: int = 5 * 10**9,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the Hugging Face folder into a temporary sibling, then rename it to `out`.

    An existing `out` is replaced only when an earlier export wrote it and nothing was added
    since (its marker file lists what it wrote) or with `overwrite`; an `out` that is, contains
    or lies inside the checkpoint or its run folder, the current folder or the home folder is
    always refused.
    """
    # The folder the kernel will write: links followed (a symlinked --out keeps its link, and
    # LINK/../x is checked where it lands).
    given, out = str(out), Path(os.path.realpath(os.path.expanduser(out)))
    refuse_overlap(checkpoint, find_checkpoint(checkpoint), out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    refuse_foreign(out, overwrite)
    model, state = load_model(checkpoint)
    source = Path(state["path"])
    weights = {
        name: tensor.detach().to(DTYPES[dtype]).contiguous()
        for name, tensor in to_hf_weights(model.state_dict(), model.config).items()
    }
    tmp = temporary_path(out)
    tmp.mkdir()
    try:
        result = _write_folder(tmp, model, weights, source, dtype, max_shard_bytes)
        result = {"checkpoint": str(source), "step": state["step"], "out": given, **result}
        files = sorted(path.name for path in tmp.iterdir())
        marker = {"llm_pretrain_version": __version__, **result, "files": files}
        atomic_write_json(tmp / EXPORT_MARKER, marker)
        fsync_dir(tmp)
        _publish(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk, a read-only folder: one line, not a trace
            raise TrainError(f"could not write {out}: {exc.strerror or exc}") from None
        raise
    return result


def _write_folder(
    folder: Path,
    model: Transformer,
    weights: dict[str, torch.Tensor],
    source: Path,
    dtype: str,
    max_shard_bytes: int,
) -> dict[str, Any]:
    """Weights, config, generation config and tokenizer files into `folder`."""
    groups = _shards(weights, max_shard_bytes)
    metadata = {"format": "pt"}  # what transformers checks for
    if len(groups) == 1:
        save_file(groups[0], str(folder / "model.safetensors"), metadata=metadata)
        files = ["model.safetensors"]
    else:
        files = [f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors" for k in range(len(groups))]
        weight_map = {}
        for name, group in zip(files, groups, strict=True):
            save_file(group, str(folder / name), metadata=metadata)
            weight_map.update(dict.fromkeys(group, name))
        total = sum(t.numel() * t.element_size() for t in weights.values())
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        atomic_write_json(folder / "model.safetensors.index.json", index)
    eot = _eot_id(source)
    atomic_write_json(folder / "config.json", to_hf_config(model.config, eot, dtype))
    generation = {"bos_token_id": eot, "eos_token_id": eot}
    atomic_write_json(folder / "generation_config.json", generation)
    copied = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    for name in copied:
        shutil.copyfile(source / name, folder / name)
    return {
        "dtype": dtype,
        "weights": files,
        "parameters": model.parameter_count(),
        "tokenizer": copied,
    }
