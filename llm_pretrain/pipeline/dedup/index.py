"""The persistent dedup index: hashes and signatures of every document kept so far.

    index/_index.json               format, the settings signatures depend on, committed parts
    index/part-<batch>.parquet      one part per dedup run (batch): id, text_hash, signature
    index/lines-<batch>.parquet     with `dedup.lines`: the batch's distinct unit hashes
    index/_lock                     held (flock) by the run using the index

A run writes its part before it commits its output, and lists the part in `_index.json`
(atomically replaced: the commit point) after. Unlisted parts are ignored, so a run killed at
any moment leaves the index as it was; the run's retry writes the same part again and lists it.
A run never reads its own batch's part, so that a retry decides exactly as the first attempt.
Parquet, not pickle: nothing in the index executes code when read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llm_pretrain.pipeline.dataset import DamagedShard, atomic_parquet, open_shard
from llm_pretrain.pipeline.dedup.clusters import Documents
from llm_pretrain.pipeline.dedup.config import DedupConfig
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.pipeline.sorted_arrays import sorted_distinct
from llm_pretrain.storage import (
    atomic_write_json,
    file_sha256,
    read_json,
)

INDEX_MANIFEST = "_index.json"
INDEX_FORMAT = 1


def index_params(config: DedupConfig) -> dict[str, Any]:
    """The settings stored hashes and signatures depend on: a run must use the same ones."""
    minhash = config.minhash
    params = {
        "exact_normalize": config.exact.normalize.model_dump(),
        "minhash_normalize": minhash.normalize.model_dump(),
        "shingle": minhash.shingle,
        "ngram": minhash.ngram,
        "num_perm": minhash.num_perm,
        "seed": minhash.seed,
        "scheme": "datasketch affine32",
    }
    if config.lines.enabled:  # left out when off: indexes made before lines existed still match
        params["lines"] = config.lines.index_params()
    return params


def signature_schema(num_perm: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text_hash", pa.binary(16), nullable=False),
            pa.field("signature", pa.list_(pa.uint32(), num_perm), nullable=False),
        ]
    )


def hash_array(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A binary(16) column as numpy "V16" values."""
    hashes = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    raw = np.frombuffer(hashes.buffers()[1], dtype=np.uint8)[hashes.offset * 16 :]
    return raw[: len(hashes) * 16].copy().view("V16")


def signature_array(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """A fixed-size-list signature column as an (n, num_perm) uint32 matrix."""
    signature = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    flat = signature.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(signature), num_perm).astype(np.uint32, copy=False)


def table_documents(table: pa.Table, num_perm: int) -> Documents:
    """Hashes and signatures of a signature table as numpy arrays."""
    return Documents(
        hashes=hash_array(table.column("text_hash")),
        signatures=signature_array(table.column("signature"), num_perm),
    )


class DedupIndex:
    def __init__(self, folder: Path, config: DedupConfig) -> None:
        self.folder = Path(folder)
        self.params = index_params(config)
        self.num_perm = config.minhash.num_perm
        self.lines = config.lines.enabled
        self.verified: set[str] = set()  # sha256 of the parts checked by this run

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the index for this run; a second run on it exits at once (`Locked`, 75)."""
        with folder_lock(self.folder / "_lock", "in use by a dedup run"):
            yield

    def manifest(self) -> dict[str, Any]:
        path = self.folder / INDEX_MANIFEST
        if not path.exists():
            return {"format": INDEX_FORMAT, "params": self.params, "parts": [], "documents": 0}
        manifest = read_json(path)
        if manifest.get("format") != INDEX_FORMAT:
            raise StageError(f"{path}: unknown index format {manifest.get('format')!r}")
        if manifest["params"] != self.params:
            keys = set(self.params) | set(manifest["params"])
            changed = sorted(k for k in keys if manifest["params"].get(k) != self.params.get(k))
            raise StageError(
                f"dedup index {self.folder} was built with other settings ({', '.join(changed)}); "
                "use the same settings or a new --index"
            )
        return manifest

    def other_batches(self, batch: str) -> list[str]:
        return [part["batch"] for part in self.manifest()["parts"] if part["batch"] != batch]

    def part_files(self, batch: str, kind: str = "file") -> list[Path]:
        """The committed parts but `batch`'s own, in order: the index's nodes (`kind` "file")
        or unit hashes ("lines"). Each is checked against `_index.json` first (a damaged part
        would let duplicates through, or drop documents as duplicates of ones that are not in
        the corpus)."""
        parts = [p for p in self.manifest()["parts"] if p["batch"] != batch]
        described = [part if kind == "file" else part["lines"] for part in parts]
        for part in described:
            path = self.folder / part["file"]
            if part["sha256"] in self.verified:
                continue
            try:
                open_shard(path, path.stat().st_size, part["sha256"], part["rows"])
            except FileNotFoundError:
                raise StageError(f"dedup index part {path} is missing") from None
            except DamagedShard as exc:
                raise StageError(f"dedup index {self.folder} is damaged: {exc}") from None
            self.verified.add(part["sha256"])
        return [self.folder / part["file"] for part in described]

    def load_lines(self, batch: str) -> np.ndarray:
        """The unit hashes of every committed part but `batch`'s own, sorted and distinct."""
        tables = [pq.read_table(path) for path in self.part_files(batch, "lines")]
        hashes = [t.column("hash").to_numpy().astype(np.uint64, copy=False) for t in tables]
        return sorted_distinct(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)

    def load(self, batch: str) -> Documents:
        """Hashes and signatures of every committed part but `batch`'s own."""
        columns = ["text_hash", "signature"]
        schema = signature_schema(self.num_perm)
        tables = [pq.read_table(path, columns=columns) for path in self.part_files(batch)]
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        return table_documents(table, self.num_perm)

    def part_name(self, batch: str) -> str:
        return f"part-{batch}.parquet"

    def lines_part_name(self, batch: str) -> str:
        return f"lines-{batch}.parquet"

    def write_lines_part(self, batch: str, hashes: np.ndarray) -> None:
        """This batch's distinct unit hashes (sorted), not yet committed."""
        table = pa.table({"hash": pa.array(hashes, pa.uint64())})
        with atomic_parquet(self.folder / self.lines_part_name(batch), table.schema) as writer:
            writer.write_table(table)

    def part_writer(
        self, batch: str, schema: pa.Schema
    ) -> AbstractContextManager[pq.ParquetWriter]:
        """Write (or write again, identically) this batch's part; not yet committed."""
        return atomic_parquet(self.folder / self.part_name(batch), schema)

    @staticmethod
    def _described(path: Path) -> dict[str, Any]:
        rows = pq.ParquetFile(path).metadata.num_rows
        return {"file": path.name, "rows": rows, "sha256": file_sha256(path)}

    def commit(self, batch: str) -> bool:
        """List this batch's part in the manifest, unless it already is; True if it was added."""
        manifest = self.manifest()
        if any(part["batch"] == batch for part in manifest["parts"]):
            return False
        path = self.folder / self.part_name(batch)
        if not path.exists():
            raise StageError(f"dedup index part {path} is missing; run dedup with --overwrite")
        part = {"batch": batch, **self._described(path)}
        if self.lines:
            lines = self.folder / self.lines_part_name(batch)
            if not lines.exists():
                raise StageError(f"dedup index part {lines} is missing; run dedup with --overwrite")
            part["lines"] = self._described(lines)
        manifest["parts"].append(part)
        manifest["documents"] = sum(p["rows"] for p in manifest["parts"])
        atomic_write_json(self.folder / INDEX_MANIFEST, manifest)
        return True
