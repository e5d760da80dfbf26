"""The dataset contract: a folder of Parquet shards, `_manifest.json`, `_stats.json`, `_rejected/`.

    out/part-00000.parquet ...           kept documents (DOCUMENT_SCHEMA + annotation columns)
    out/_rejected/part-00000.parquet ... rejected documents, with a `reason` column
    out/_manifest.json                   stage, config, inputs, counts, shards with checksums
    out/_stats.json                      per-reason counts, errors, timings
    out/_README.md                       what the folder holds, for people
    out/.huggingface.yaml                the kept shards, for `datasets.load_dataset(out)`

Shard i of the kept and the rejected folder both come from task i, so a task's output is
addressable and a re-run can tell finished work from unfinished. Every other name starts
with `_` or `.`, which pyarrow and pandas skip when they read a folder:
`pyarrow.parquet.read_table(out)` gives the kept documents and nothing else.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from llm_pretrain.errors import StageError
from llm_pretrain.remote.folders import StoreFolder
from llm_pretrain.remote.stores import is_url
from llm_pretrain.storage import (
    atomic_path,
    atomic_write_bytes,
    commit_file,
    file_problem,
    file_sha256,
    read_json,
    temporary_path,
)

MANIFEST = "_manifest.json"
STATS = "_stats.json"
SHARD_GLOB = "part-*.parquet"
REJECTED_DIR = "_rejected"
# Where datasets of schema 1 hold their rejected shards, which pyarrow and pandas read in as
# documents: their manifests still name them, and a stage clearing such a dataset removes it.
LEGACY_REJECTED_DIR = "rejected"
# The card of a finished document dataset. `datasets.load_dataset(folder)` reads the standalone
# YAML form of a card's front matter: a README.md beside the shards would be read as a shard
# by pyarrow and pandas, so the card for people is `_README.md`.
HF_YAML = ".huggingface.yaml"
README = "_README.md"
# Flush a row group early when buffered text passes this size, to bound worker memory.
ROW_GROUP_MAX_BYTES = 64 << 20


def text_bytes(text: str | None) -> int:
    """A document's size as the funnel counts it: UTF-8 bytes of its text."""
    return len(text.encode("utf-8", "surrogatepass")) if text else 0


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class ShardInfo:
    file: str  # path relative to the dataset folder
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


class ShardWriter:
    """Streams rows into one Parquet shard in bounded memory; `commit` publishes it atomically.

    An empty shard is still written (with the schema), so that every task leaves the same files
    and any reader sees a well-formed, possibly empty, table.
    """

    def __init__(self, root: Path, relative: str, schema: pa.Schema, row_group_rows: int) -> None:
        self.root = root
        self.relative = relative
        self.path = root / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_path(self.path)
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.buffer: list[dict[str, Any]] = []
        self.buffered_bytes = 0
        self.rows = 0
        self.text_bytes = 0  # UTF-8 bytes of the `text` column written, for the funnel stats
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def add(self, row: dict[str, Any]) -> int:
        """Buffer one row; its text's UTF-8 bytes, for the caller's per-reason counts."""
        self.buffer.append(row)
        self.buffered_bytes += len(row.get("text") or "")
        size = text_bytes(row.get("text"))
        self.text_bytes += size
        if len(self.buffer) >= self.row_group_rows or self.buffered_bytes >= ROW_GROUP_MAX_BYTES:
            self.flush()
        return size

    def add_table(self, table: pa.Table) -> None:
        """Write whole Arrow rows (already in this shard's schema) after the buffered ones."""
        self.flush()
        if len(table):
            self.writer.write_table(table, row_group_size=self.row_group_rows)
            self.rows += len(table)
            if "text" in table.column_names:
                self.text_bytes += pc.sum(pc.binary_length(table["text"])).as_py() or 0

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.rows += len(self.buffer)
            self.buffer = []
            self.buffered_bytes = 0

    def commit(self) -> ShardInfo:
        self.flush()
        self.writer.close()
        commit_file(self.tmp, self.path)
        return ShardInfo(self.relative, self.rows, self.path.stat().st_size, file_sha256(self.path))

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class TaskShards:
    """Shard `index` of a dataset's kept and rejected folders, which a task writes together:
    `commit` publishes both; leaving the `with` block by an exception removes both."""

    def __init__(
        self,
        root: Path,
        index: int,
        schema: pa.Schema,
        rejected_schema: pa.Schema,
        row_group_rows: int,
    ) -> None:
        name = shard_name(index)
        self.kept = ShardWriter(root, name, schema, row_group_rows)
        self.rejected = ShardWriter(root, f"{REJECTED_DIR}/{name}", rejected_schema, row_group_rows)

    def __enter__(self) -> TaskShards:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.kept.abort()
            self.rejected.abort()

    def commit(self) -> tuple[ShardInfo, ShardInfo]:
        return self.kept.commit(), self.rejected.commit()


@contextmanager
def atomic_parquet(
    path: Path, schema: pa.Schema, compression: str = "zstd"
) -> Iterator[pq.ParquetWriter]:
    """A Parquet writer whose file appears as `path` only if the block completes (for files
    that are not document shards: dedup's signatures, decisions and index parts). Files of
    hashes that live only until the stage commits are better written uncompressed (`none`):
    random hashes do not compress, and zstd would spend its time on them anyway."""
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as writer:
        yield writer


class DamagedShard(StageError):
    """A shard that is not the file its manifest lists (changed, cut, zeroed, swapped, or the
    manifest edited): reading it would lose or double documents, and a rerun cannot help."""

    retryable = False


def open_shard(path: Path | str, size: int, sha256: str | None, rows: int | None) -> pq.ParquetFile:
    """The Parquet shard at `path`, after checking it is the one its manifest describes:
    size, sha256 (one read at ~1.6 GB/s, a fraction of what parsing the shard costs) and rows.
    A shard in an object store is downloaded first, to a temporary file that is gone once the
    shard is closed."""
    if is_url(path):
        return _open_downloaded(str(path), size, sha256, rows)
    path = Path(path)
    advice = "it changed after its dataset was written; rebuild the dataset"
    problem = file_problem(path, str(path), size, sha256)
    if problem:
        raise DamagedShard(f"{problem} in its manifest; {advice}")
    try:
        shard = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DamagedShard(f"{path} is not a readable Parquet file ({exc}); {advice}") from None
    if rows is not None and shard.metadata.num_rows != rows:
        raise DamagedShard(
            f"{path} holds {shard.metadata.num_rows:,} rows, its manifest says {rows:,}; {advice}"
        )
    return shard


def _open_downloaded(url: str, size: int, sha256: str | None, rows: int | None) -> pq.ParquetFile:
    with tempfile.TemporaryDirectory(prefix="llm-pretrain-shard-") as scratch:
        local = Path(scratch) / url.rsplit("/", 1)[-1]
        folder, name = url.rsplit("/", 1)
        StoreFolder(folder).download(name, local)
        try:
            return open_shard(local, size, sha256, rows)  # open: the file may go, the handle stays
        except DamagedShard as exc:  # named by its URL, not by the temporary file
            raise DamagedShard(str(exc).replace(str(local), url)) from None


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / MANIFEST
    return read_json(path) if path.exists() else None


def shard_paths(folder: Path, rejected: bool = False, verify: bool = True) -> list[Path]:
    """The shards a committed dataset lists in its manifest, in order, each checked against
    it (`DamagedShard`) unless `verify` is off."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{folder} is not a finished dataset (no {MANIFEST})")
    key = "rejected_shards" if rejected else "shards"
    paths = [Path(folder) / shard["file"] for shard in manifest[key]]
    if verify:
        for path, shard in zip(paths, manifest[key], strict=True):
            open_shard(path, shard["bytes"], shard["sha256"], shard["rows"])
    return paths


def read_table(folder: Path, rejected: bool = False) -> pa.Table:
    """All kept (or rejected) rows of a finished dataset, in shard order."""
    return pa.concat_tables([pq.read_table(path) for path in shard_paths(folder, rejected)])


def write_cards(folder: Path, manifest: dict[str, Any]) -> None:
    """The dataset's `.huggingface.yaml` (its kept shards, as the Hub declares data files) and
    `_README.md`, from the manifest about to be committed."""
    configs = [{"config_name": "default", "data_files": [{"split": "train", "path": SHARD_GLOB}]}]
    hf_yaml = (
        f"# Written by llm-data {manifest['stage']}: the kept documents; see {README}.\n"
        + yaml.safe_dump({"configs": configs}, sort_keys=False)
    )
    for name, text in ((HF_YAML, hf_yaml), (README, card_text(manifest))):
        if card_is_ours(folder / name):  # a note of the user's own under that name stays
            atomic_write_bytes(folder / name, text.encode("utf-8"))


# How the cards begin: a file under their names that begins otherwise is the user's.
CARD_HEADS = {HF_YAML: b"# Written by llm-data ", README: b"# Document dataset\n"}


def card_is_ours(path: Path) -> bool:
    """Whether the card file `path` is missing or written by this tool (may be replaced)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(64).startswith(CARD_HEADS[path.name])
    except FileNotFoundError:
        return True


def card_text(manifest: dict[str, Any]) -> str:
    """`_README.md`: what wrote the folder, what it holds, and how to read it; the same bytes
    for the same dataset (the time is in the manifest)."""
    counts = manifest["counts"]
    shards = _count(len(manifest["shards"]), "Parquet shard")
    return f"""# Document dataset

Written by `llm-data {manifest["stage"]}` of llm-pretrain {manifest["llm_pretrain_version"]}.

- `{SHARD_GLOB}`: {_count(counts["documents"], "document")} in {shards}: the dataset.
- `{REJECTED_DIR}/`: {_count(counts["rejected"], "rejected document")}, each with its \
`reason`; not part of the dataset.
- `{MANIFEST}`: settings, inputs, counts and the sha256 of every shard; `{STATS}`: counts \
per reason, errors, timings.

`date` is a UTC timestamp, null when the input gave no date that could be read; the date as \
the input wrote it is in the `metadata` JSON, under "date".

Read the documents with `pyarrow.parquet.read_table(folder)`, `pandas.read_parquet(folder)` \
or `datasets.load_dataset(folder)` (which reads `{HF_YAML}`): they skip the names that start \
with `_` or `.`, which are not documents.
"""


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
