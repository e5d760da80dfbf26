"""Packing keeps every id exactly once with recoverable document boundaries; shards written and
read back memory-mapped give the same rows by index as in order."""

from __future__ import annotations

import numpy as np
import pytest

from llm_pretrain.tokenizer.packing import Packer, documents_of, id_dtype, pad_row
from llm_pretrain.tokenizer.shards import PackedReader, write_shard

EOT = 9


def random_documents(count: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, EOT, rng.integers(0, 40)).tolist() for _ in range(count)]


def test_every_id_once_and_documents_recoverable():
    documents = random_documents(200)
    packer = Packer(seq_len=15, eot_id=EOT, dtype=np.dtype(np.uint16))
    rows = []
    for document in documents:
        packer.add(document)
        rows.append(packer.rows())
    rows.append(packer.rows())
    full = np.concatenate(rows)
    tail = packer.tail()
    assert full.shape[1] == 16 and len(tail) < 16
    assert full.size + len(tail) == packer.tokens_in == sum(len(d) + 1 for d in documents)
    assert documents_of(np.concatenate([full.ravel(), tail]), EOT) == documents


def test_a_carried_tail_comes_first():
    packer = Packer(seq_len=3, eot_id=EOT, dtype=np.dtype(np.uint16), carry=np.array([1, 2]))
    packer.add([3, 4, 5])
    assert packer.rows().tolist() == [[1, 2, 3, 4]]
    assert packer.tail().tolist() == [5, EOT]


def test_padded_last_row_keeps_its_true_length():
    row, length = pad_row(np.array([4, 5, EOT], dtype=np.uint16), 6, pad_id=EOT)
    assert row.tolist() == [4, 5, EOT, EOT, EOT, EOT] and length == 3


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
