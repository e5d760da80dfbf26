"""The batch stream: deterministic, disjoint across ranks, resumable at any world size, and
masking the padding of a split's last row."""

from __future__ import annotations

import numpy as np
import pytest

from llm_pretrain.tokenizer.shards import PackedReader, write_shard
from llm_pretrain.train.data import ShuffledRows, TokenBatches, loss_mask


@pytest.fixture
def reader(tmp_path) -> PackedReader:
    """30 rows of 9 ids; row r holds r in every place, and the last row is 4 ids long."""
    rows = np.repeat(np.arange(30, dtype=np.uint16)[:, None], 9, axis=1)
    lengths = np.full(30, 9, dtype=np.int32)
    lengths[-1] = 4
    write_shard(tmp_path / "a.arrow", rows[:17], lengths[:17])
    write_shard(tmp_path / "b.arrow", rows[17:], lengths[17:])
    return PackedReader([tmp_path / "a.arrow", tmp_path / "b.arrow"])


def rows_seen(batches: TokenBatches, steps: int) -> list[int]:
    return [int(row) for _ in range(steps) for row in batches.next_batch().inputs[:, 0]]


def test_an_epoch_sees_every_row_once_across_ranks(reader):
    ranks = [TokenBatches(reader, batch_rows=3, rank=r, world=2, seed=7) for r in range(2)]
    seen = [rows_seen(batches, 5) for batches in ranks]  # 5 steps x 3 rows x 2 ranks = 30
    assert sorted(seen[0] + seen[1]) == list(range(30))
    assert ranks[0].position == ranks[1].position == 30
    again = TokenBatches(reader, batch_rows=3, rank=0, world=2, seed=7)
    assert rows_seen(again, 5) == seen[0]
    other = TokenBatches(reader, batch_rows=3, rank=0, world=2, seed=8)
    assert rows_seen(other, 5) != seen[0]


def test_resuming_with_another_world_size_continues_the_same_order(reader):
    single = TokenBatches(reader, batch_rows=4, seed=3)
    reference = rows_seen(single, 10)  # 40 rows: an epoch and a third
    first = TokenBatches(reader, batch_rows=2, rank=0, world=2, seed=3)
    second = TokenBatches(reader, batch_rows=2, rank=1, world=2, seed=3)
    head = []
    for _ in range(3):  # 12 rows with two ranks
        head += rows_seen(first, 1) + rows_seen(second, 1)
    resumed = TokenBatches(reader, batch_rows=4, seed=3, position=first.position)
    assert head + rows_seen(resumed, 7) == reference


def test_targets_are_inputs_shifted_and_padding_is_masked(reader):
    batch = TokenBatches(reader, batch_rows=30, seed=0).next_batch()
    assert batch.inputs.shape == batch.targets.shape == (30, 8)
    last = int(np.flatnonzero(batch.inputs[:, 0].numpy() == 29)[0])
    assert batch.mask[last].tolist() == [True] * 3 + [False] * 5
    assert batch.target_tokens == 29 * 8 + 3
    assert loss_mask(np.array([9, 1]), 8).sum(axis=1).tolist() == [8, 0]


def test_the_stream_crosses_epochs_without_a_gap():
    stream = ShuffledRows(5, seed=1)
    taken = stream.take(3, 9)
    assert sorted(taken[:2].tolist() + stream.order(0)[:3].tolist()) == list(range(5))
    assert taken[2:7].tolist() == stream.order(1).tolist()
