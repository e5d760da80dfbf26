"""Packing keeps every id exactly once with recoverable document boundaries; shards written and
read back memory-mapped give the same rows by index as in order."""

from __future__ import annotations

import numpy as np
import pytest

from llm_pretrain.tokenizer.packing import (
    TokenStream,
    documents_of,
    id_dtype,
    pack_rows,
    row_count,
)
from llm_pretrain.tokenizer.shards import PackedReader, write_shard

EOT = 9


def random_documents(count: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, EOT, rng.integers(0, 40)).tolist() for _ in range(count)]


def stream_of(documents: list[list[int]]) -> np.ndarray:
    return np.array([i for d in documents for i in [*d, EOT]], dtype=np.uint16)


def test_every_id_once_and_documents_recoverable():
    documents = random_documents(200)
    stream = stream_of(documents)
    rows, lengths = pack_rows(stream, 16, pad_id=EOT)
    assert rows.shape == (row_count(len(stream), 16), 16)
    assert lengths.sum() == len(stream) == sum(len(d) + 1 for d in documents)
    real = np.concatenate([row[:length] for row, length in zip(rows, lengths, strict=True)])
    assert documents_of(real, EOT) == documents
    assert (lengths[:-1] == 16).all() and 0 < lengths[-1] <= 16


def test_only_a_partial_last_row_is_padded():
    rows, lengths = pack_rows(np.array([4, 5, EOT], dtype=np.uint16), 2, pad_id=EOT)
    assert rows.tolist() == [[4, 5], [EOT, EOT]] and lengths.tolist() == [2, 1]
    rows, lengths = pack_rows(np.array([4, EOT], dtype=np.uint16), 2, pad_id=EOT)
    assert rows.tolist() == [[4, EOT]] and lengths.tolist() == [2]
    rows, lengths = pack_rows(np.empty(0, np.uint16), 2, pad_id=EOT)
    assert rows.shape == (0, 2) and lengths.size == 0


def test_token_files_read_as_one_stream(tmp_path):
    parts = [np.arange(n, dtype=np.uint32) + 100 * i for i, n in enumerate([5, 0, 7, 1, 3])]
    files = []
    for i, part in enumerate(parts):
        path = tmp_path / f"t{i}.bin"
        path.write_bytes(part.tobytes())
        files.append((path, len(part)))
    stream = TokenStream(files, np.dtype(np.uint32))
    whole = np.concatenate(parts)
    assert len(stream) == len(whole) == 16
    for start in range(17):
        for stop in range(start, 17):
            assert np.array_equal(stream.read(start, stop), whole[start:stop])
    with pytest.raises(ValueError, match="does not hold"):
        TokenStream([(tmp_path / "t0.bin", 6)], np.dtype(np.uint32))


@pytest.mark.parametrize(
    ("vocab", "dtype"), [(50_000, np.uint16), (65_536, np.uint16), (100_000, np.uint32)]
)
def test_id_dtype(vocab, dtype):
    assert id_dtype(vocab) == dtype


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
def test_reader_random_access_equals_iteration(tmp_path, dtype):
    rng = np.random.default_rng(1)
    shards = [rng.integers(0, 60_000, (n, 9)).astype(dtype) for n in (5, 0, 7, 3, 0)]
    paths = []
    for i, rows in enumerate(shards):
        lengths = np.full(len(rows), 9, dtype=np.int32)
        if i == 3:
            lengths[-1] = 4  # a padded row
        info = write_shard(tmp_path / f"shard-{i:05d}.arrow", rows, lengths)
        assert info["rows"] == len(rows) and info["tokens"] == int(lengths.sum())
        assert info["max_id"] == (int(rows.max()) if len(rows) else 0)
        paths.append(tmp_path / info["file"])
    reader = PackedReader(paths)
    assert len(reader) == 15
    in_order = list(reader)
    everything = np.concatenate(shards)
    for index in range(len(reader)):
        ids, length = reader[index]
        assert np.array_equal(ids, everything[index]) and ids.dtype == dtype
        assert np.array_equal(ids, in_order[index][0]) and length == in_order[index][1]
    assert reader[14][1] == 4 and reader[0][1] == 9
    with pytest.raises(IndexError):
        reader[15]
    ranks = [list(reader.rank_rows(rank, 2)) for rank in range(2)]
    assert sorted(ranks[0] + ranks[1]) == list(range(15)) and not set(ranks[0]) & set(ranks[1])
