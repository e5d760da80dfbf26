"""`llm-data tokenize`: a document dataset in, a tokenizer and packed token shards out.

    out/tokenizer.json, tokenizer_config.json   the tokenizer (Hugging Face format)
    out/train_report.json                       how it was trained (when it was trained here)
    out/train/shard-00000.arrow ...             training rows (see shards.py)
    out/val/shard-00000.arrow ...               validation rows, from held-out documents
    out/_manifest.json, out/_stats.json         the commit point, and the run's numbers

Three phases, resumable, with their state under `_progress/` until the commit:
1. tokenizer (this process): trained on the input, without the validation documents, or copied
   from `--tokenizer` byte for byte (a refresh keeps its tokenizer);
2. encode (worker pool, one task per input shard): each split's ids to a raw token file;
3. pack (worker pool, one task per output shard): the token files of a split, read as one stream,
   cut into rows at fixed offsets, so output shards are of bounded size and only the very last
   row of a split is padded.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from llm_pretrain.pipeline import progress
from llm_pretrain.pipeline.dataset import MANIFEST, STATS
from llm_pretrain.pipeline.executor import TaskFailure
from llm_pretrain.pipeline.executor_config import ExecutorConfig
from llm_pretrain.pipeline.outputs import overlap
from llm_pretrain.pipeline.runner import (
    PROGRESS_DIR,
    Commit,
    InputDataset,
    RunSummary,
    StageError,
    StageRun,
    check_dataset_output,
    merge_stats,
    read_input_dataset,
    run_stage,
    shard_task_failed,
)
from llm_pretrain.pipeline.stats import TokenizeStats
from llm_pretrain.storage import (
    atomic_write_bytes,
    file_sha256,
    remove_tree,
)
from llm_pretrain.tokenizer.bpe import (
    CONFIG_FILE,
    END_OF_TEXT,
    TOKENIZER_FILE,
    BpeTokenizer,
    TokenizerError,
)
from llm_pretrain.tokenizer.config import TokenizeConfig, TokenizerConfig
from llm_pretrain.tokenizer.encoding import (
    SPLITS,
    EncodeResult,
    EncodeSettings,
    SplitRule,
    encode_shard,
    token_file,
)
from llm_pretrain.tokenizer.hf_format import tokenizer_config
from llm_pretrain.tokenizer.packing import TokenStream, id_dtype, pack_rows, row_count
from llm_pretrain.tokenizer.sampling import validation_salt
from llm_pretrain.tokenizer.shards import write_shard
from llm_pretrain.tokenizer.training import REPORT_FILE, train_tokenizer

STAGE = "tokenize"


@dataclass(frozen=True)
class PackTask:
    index: int  # over both splits: names the task's done-marker
    split: str
    shard: int  # shard number within the split
    first_row: int
    rows: int
    input_bytes: int

    def describe(self) -> str:
        return f"packing {shard_file(self.split, self.shard)}"


@dataclass
class PackResult:
    index: int
    split: str
    shard: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "split": self.split, "shard": self.shard}


def shard_file(split: str, shard: int) -> str:
    return f"{split}/shard-{shard:05d}.arrow"


def pack_shard(
    task: PackTask,
    streams: dict[str, list[tuple[Path, int]]],
    dtype: str,
    row_len: int,
    pad_id: int,
    output: Path,
) -> PackResult:
    """Worker side: rows first_row .. first_row + rows of the split's stream, as one shard."""
    stream = TokenStream(streams[task.split], np.dtype(dtype))
    start = task.first_row * row_len
    ids = stream.read(start, min(len(stream), start + task.rows * row_len))
    rows, lengths = pack_rows(ids, row_len, pad_id)
    relative = shard_file(task.split, task.shard)
    info = write_shard(output / relative, rows, lengths)
    progress.report(nbytes=task.input_bytes)
    return PackResult(task.index, task.split, {**info, "file": relative})


def pack_failed(task: PackTask, failure: TaskFailure) -> PackResult:
    raise StageError(
        f"packing {shard_file(task.split, task.shard)}: {failure.message}; "
        "finished shards are kept, run the same command again to retry"
    )


def plan_packing(
    split_tokens: dict[str, int], row_len: int, itemsize: int, shard_max_bytes: int
) -> list[PackTask]:
    """Output shards of each split: whole rows, at most `shard_max_bytes` of ids each."""
    row_bytes = row_len * itemsize
    per_shard = max(1, shard_max_bytes // row_bytes)
    tasks: list[PackTask] = []
    for split in SPLITS:
        rows = row_count(split_tokens[split], row_len)
        for shard, first in enumerate(range(0, rows, per_shard)):
            count = min(per_shard, rows - first)
            tasks.append(PackTask(len(tasks), split, shard, first, count, count * row_bytes))
    return tasks


def clear_output(output: Path) -> None:
    """Remove what this stage writes into `output` (and nothing else the user keeps there)."""
    for name in (MANIFEST, STATS, TOKENIZER_FILE, CONFIG_FILE, REPORT_FILE):
        (output / name).unlink(missing_ok=True)
    for name in (*SPLITS, PROGRESS_DIR):
        remove_tree(output / name)


@dataclass(frozen=True)
class TokenizerSource:
    """Where the tokenizer comes from: trained on the input (path None), or an existing one."""

    path: Path | None

    @property
    def file(self) -> Path:
        assert self.path is not None
        return self.path / TOKENIZER_FILE if self.path.is_dir() else self.path

    def identity(self) -> dict[str, Any]:
        """What the manifest records (and fingerprints) of a tokenizer that is reused."""
        if not self.file.is_file():
            raise TokenizerError(f"no tokenizer at {self.path} (expected {TOKENIZER_FILE})")
        return {"tokenizer": str(self.file), "sha256": file_sha256(self.file)}


def copy_tokenizer(file: Path, output: Path, max_length: int) -> BpeTokenizer:
    """An existing tokenizer into `output`, byte for byte (its hash names the corpus's ids),
    with its `tokenizer_config.json` when it has one."""
    tokenizer = BpeTokenizer.load(file)  # refuses a file we cannot encode with
    atomic_write_bytes(output / TOKENIZER_FILE, file.read_bytes())
    settings_file = file.with_name(CONFIG_FILE)
    if settings_file.is_file():
        settings = settings_file.read_bytes()
    else:
        document = tokenizer_config(tokenizer.special_tokens, END_OF_TEXT, max_length)
        settings = json.dumps(document, indent=1).encode("utf-8")
    atomic_write_bytes(output / CONFIG_FILE, settings)
    return tokenizer


def provide_tokenizer(
    source: TokenizerSource,
    input_dir: Path,
    output: Path,
    settings: TokenizerConfig,
    seq_len: int,
    rule: SplitRule,
) -> dict[str, Any]:
    """Phase 1: put the tokenizer files into `output`; return what the manifest says of it."""
    started = time.perf_counter()
    if source.path is None:
        train_tokenizer(input_dir, output, settings, rule.is_validation, seq_len)
        tokenizer = BpeTokenizer.load(output / TOKENIZER_FILE)
    else:
        tokenizer = copy_tokenizer(source.file, output, seq_len)
    return {
        "file": TOKENIZER_FILE,
        "sha256": file_sha256(output / TOKENIZER_FILE),
        "vocab_size": tokenizer.vocab_size,
        "eot_id": tokenizer.eot_id,
        "special_tokens": tokenizer.special_tokens,
        "dtype": id_dtype(tokenizer.vocab_size).name,
        "source": None if source.path is None else str(source.file),
        "seconds": round(time.perf_counter() - started, 3),
    }


def run_tokenize(
    input_dir: Path,
    output: Path,
    settings: TokenizeConfig,
    tokenizer_settings: TokenizerConfig,
    executor: ExecutorConfig,
    tokenizer_path: Path | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
) -> RunSummary:
    """Tokenize the dataset in `input_dir` into `output`, with a tokenizer trained on it
    (`tokenizer_settings`) or the one at `tokenizer_path`."""
    dataset = read_input_dataset(input_dir)
    check_dataset_output(output, [input_dir], "input dataset")
    if tokenizer_path is not None and overlap(output, tokenizer_path) in ("is", "contains"):
        raise StageError(f"--output {output} holds the --tokenizer {tokenizer_path}")
    source = TokenizerSource(tokenizer_path)
    config = {"tokenize": settings.model_dump()}
    if source.path is None:
        config["tokenizer"] = tokenizer_settings.model_dump()
    inputs = [dataset.identity(), *([source.identity()] if source.path else [])]
    stage = TokenizeStage(output, config, inputs, dataset, source, settings, tokenizer_settings)
    return run_stage(stage, executor, show_progress, overwrite)


@dataclass
class TokenizeStage:
    """The three phases (see the module's docstring) on the one runner."""

    output: Path
    config: dict[str, Any]
    inputs: list[dict[str, Any]]
    dataset: InputDataset
    source: TokenizerSource
    settings: TokenizeConfig
    tokenizer_settings: TokenizerConfig
    name: str = STAGE
    data_glob: str = "*/shard-*.arrow"
    data_folders: tuple[str, ...] = ("", *SPLITS)

    def clear(self, output: Path) -> None:
        clear_output(output)

    def run(self, run: StageRun) -> Commit:
        started = time.monotonic()
        output, settings = self.output, self.settings
        rule = SplitRule(settings.val_fraction, validation_salt(settings.split_seed))
        tokenizer = run.once("tokenizer", lambda: self.provide_tokenizer(rule))
        if file_sha256(output / TOKENIZER_FILE) != tokenizer["sha256"]:
            raise StageError(f"{output / TOKENIZER_FILE} changed during the run; pass --overwrite")

        encode_started = time.monotonic()
        tokens_dir = run.progress_dir / "tokens"
        tokens_dir.mkdir(exist_ok=True)
        file = str(output / TOKENIZER_FILE)
        how = EncodeSettings(
            file, tokenizer["sha256"], tokenizer["eot_id"], tokenizer["dtype"], rule
        )
        encode = partial(encode_shard, settings=how, folder=tokens_dir)
        done, encoded_now = run.map(self.dataset.tasks(), encode, shard_task_failed, "encode")
        encoded = [EncodeResult.from_json(result) for result in done]

        pack_started = time.monotonic()
        row_len = settings.seq_len + 1
        dtype = np.dtype(tokenizer["dtype"])
        streams = {split: token_files(tokens_dir, split, encoded) for split in SPLITS}
        split_tokens = {split: sum(count for _, count in streams[split]) for split in SPLITS}
        pack_tasks = plan_packing(split_tokens, row_len, dtype.itemsize, settings.shard_max_bytes)
        pack = partial(
            pack_shard, streams=streams, dtype=dtype.name, row_len=row_len,
            pad_id=tokenizer["eot_id"], output=output,
        )  # fmt: skip
        shards, packed_now = run.map(pack_tasks, pack, pack_failed, "pack")
        finished = time.monotonic()

        seconds = {
            "tokenizer": tokenizer.pop("seconds"),
            "encode": round(pack_started - encode_started, 3),
            "pack": round(finished - pack_started, 3),
            "total": round(finished - started, 3),
        }
        manifest, stats = commit_record(tokenizer, settings.seq_len, encoded, shards, seconds)
        return Commit(manifest, stats, tasks_run=encoded_now + packed_now, cards=False)

    def provide_tokenizer(self, rule: SplitRule) -> dict[str, Any]:
        """Phase 1: put the tokenizer files into the output; what the manifest says of it."""
        return provide_tokenizer(
            self.source, self.dataset.path, self.output, self.tokenizer_settings,
            self.settings.seq_len, rule,
        )  # fmt: skip


def token_files(folder: Path, split: str, encoded: list[EncodeResult]) -> list[tuple[Path, int]]:
    """A split's token files in input order, with the ids each holds."""
    return [(token_file(folder, split, r.index), r.splits[split]["tokens"]) for r in encoded]


def commit_record(
    tokenizer: dict[str, Any],
    seq_len: int,
    encoded: list[EncodeResult],
    shards: list[dict[str, Any]],
    seconds: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's own part (after the runner's header) and the stats of a finished run."""
    totals: dict[str, Any] = {}
    for result in encoded:
        merge_stats(totals, {"splits": result.splits, "empty_documents": result.empty_documents})
        merge_stats(totals, {"tokens_per_document": result.tokens_per_document})
        merge_stats(totals, {"tokens_per_language": result.tokens_per_language})
        merge_stats(totals, {"encode_cpu_seconds": result.cpu_seconds})
    splits: dict[str, Any] = {}
    for split in SPLITS:
        counts = totals.get("splits", {}).get(split, {"documents": 0, "tokens": 0, "text_bytes": 0})
        mine = [packed["shard"] for packed in shards if packed["split"] == split]
        splits[split] = {
            "documents": counts["documents"],
            "tokens": counts["tokens"],
            "rows": sum(shard["rows"] for shard in mine),
            "padded_rows": int(counts["tokens"] % (seq_len + 1) != 0),
            "shards": mine,
        }
    documents = sum(split["documents"] for split in splits.values())
    tokens = sum(split["tokens"] for split in splits.values())
    text_bytes = sum(totals.get("splits", {}).get(s, {}).get("text_bytes", 0) for s in SPLITS)
    cpu = totals.get("encode_cpu_seconds", 0.0)
    empty = totals.get("empty_documents", [])
    counted = TokenizeStats(
        documents,
        tokens,
        text_bytes,
        len(empty),
        Counter(totals.get("tokens_per_document", {})),
        Counter(totals.get("tokens_per_language", {})),
    )
    stats = {
        **counted.to_json(),
        "tasks": len(encoded) + len(shards),
        # Documents without text: nothing to pack; their ids, so that none goes unaccounted.
        "empty_document_ids": empty,
        # Compression of the text itself: the end-of-text ids (one per document) are not counted.
        "bytes_per_token": round(text_bytes / (tokens - documents), 4) if tokens else 0.0,
        "encode_cpu_seconds": round(cpu, 3),
        "encode_mb_per_cpu_second": round(text_bytes / 1e6 / cpu, 3) if cpu else None,
        "seconds": seconds,
        "wall_seconds": seconds["total"],
    }
    manifest = {
        "tokenizer": tokenizer,
        "seq_len": seq_len,
        "row_len": seq_len + 1,
        # The last row of a split may be padded with this id; its `length` column says where
        # the real ids end, and the trainer masks the targets from there on.
        "pad_id": tokenizer["eot_id"],
        "counts": {"documents": documents, "tokens": tokens},
        "bytes": sum(shard["bytes"] for split in splits.values() for shard in split["shards"]),
        "splits": splits,
    }
    return manifest, stats
