"""Signatures are datasketch's, normalisation makes invisible differences vanish, and the LSH
parameters find pairs at the threshold."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from llm_pretrain.pipeline.dedup import minhash as mh
from llm_pretrain.pipeline.dedup.config import (
    MinHashConfig,
    NormalizeConfig,
    ShingleNormalizeConfig,
)
from llm_pretrain.pipeline.dedup.normalize import normalize, text_hash
from tests.pipeline.dedup.corpus import original, words_changed


def datasketch_signature(hashes: np.ndarray, config: MinHashConfig) -> np.ndarray:
    reference = MinHash(num_perm=config.num_perm, seed=config.seed, scheme="affine32", hashfunc=int)
    reference.update_batch([int(h) for h in hashes])
    return reference.hashvalues


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_signatures_equal_datasketch(shingle):
    config = MinHashConfig(shingle=shingle, num_perm=64, seed=7)
    texts = [original(0), original(1)[:200], "two words", "", "x " * 70_000]
    hashes = [mh.shingle_hashes(text, config) for text in texts]
    assert len(hashes[-1]) > mh._BLOCK  # hashed in pieces
    rows = mh.signatures(hashes, config.num_perm, config.seed)
    for text_hashes, row in zip(hashes, rows, strict=True):
        assert np.array_equal(row, datasketch_signature(text_hashes, config))
    assert (rows[3] == mh.EMPTY).all()  # no shingles


def test_short_texts_have_one_shingle():
    config = MinHashConfig()
    assert len(mh.shingle_hashes("only three words", config)) == 1
    assert len(mh.shingle_hashes("one two three four five six", config)) == 2


def test_estimated_similarity_tracks_true_jaccard():
    config = MinHashConfig()
    base = original(3)
    for changed in (5, 20, 60):
        other = words_changed(base, changed, seed=changed)
        a, b = mh.shingle_hashes(base, config), mh.shingle_hashes(other, config)
        true = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
        rows = mh.signatures([a, b], config.num_perm, config.seed)
        estimate = float(mh.similarity(rows[0], rows[1]))
        assert abs(estimate - true) < 0.1, (changed, true, estimate)


def test_normalisation_hides_case_space_and_width():
    config = NormalizeConfig()
    assert text_hash("Hello   World\n", config) == text_hash("hello world", config)
    assert text_hash("ＨＥＬＬＯ world", config) == text_hash("hello world", config)  # NFKC
    assert text_hash("hello, world", config) != text_hash("hello world", config)
    assert text_hash("hello, world", NormalizeConfig(punctuation=True)) == text_hash(
        "hello world", config
    )
    assert normalize("A_b—c!", NormalizeConfig(punctuation=True)) == "a b c"
    plain = NormalizeConfig(unicode=False, lowercase=False, whitespace=False)
    assert normalize(" A  b ", plain) == " A  b "


def test_lsh_parameters():
    assert mh.lsh_params(MinHashConfig()) == mh.LshParams(21, 6)
    at_threshold = mh.candidate_probability(0.8, mh.lsh_params(MinHashConfig()))
    assert at_threshold >= mh.CANDIDATE_RECALL
    # Without verification, datasketch's balanced optimum (fewer false candidates).
    assert mh.lsh_params(MinHashConfig(verify="off")) == mh.LshParams(9, 13)
    assert mh.lsh_params(MinHashConfig(bands=4, rows=32)) == mh.LshParams(4, 32)


def test_exact_jaccard_of_shingle_sets():
    left = mh.shingle_set(np.array([5, 1, 3, 3], dtype=np.uint32))
    right = mh.shingle_set(np.array([3, 5, 7], dtype=np.uint32))
    assert left.tolist() == [1, 3, 5]
    assert mh.jaccard(left, right) == 2 / 4
    assert mh.jaccard(left[:0], right[:0]) == 0.0
    assert 0.13 < mh.uncertainty(0.8, 128) < 0.15


def test_band_keys_agree_exactly_where_bands_agree():
    rows = np.arange(3 * 12, dtype=np.uint32).reshape(3, 12)
    rows[1, :4] = rows[0, :4]  # the first band of document 1 equals document 0's
    keys = mh.band_keys(rows, mh.LshParams(3, 4))
    assert keys[0, 0] == keys[1, 0]
    assert keys[0, 1] != keys[1, 1] and keys[0, 2] != keys[1, 2]
    assert len(np.unique(keys[:, 0])) == 2


def test_config_rejects_half_given_bands():
    with pytest.raises(ValueError, match="together"):
        MinHashConfig(bands=4)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashConfig(bands=20, rows=10)


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 0), (256, 42)])
def test_permutations_are_datasketchs_without_importing_it(num_perm, seed):
    from llm_pretrain.pipeline.dedup.minhash import permutations

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = permutations(num_perm, seed)
    assert np.array_equal(mine[0], a.astype(np.uint32))
    assert np.array_equal(mine[1], b.astype(np.uint32))


def test_the_ascii_fast_path_removes_what_the_regex_removes():
    import random

    from llm_pretrain.pipeline.dedup import normalize as module

    rng = random.Random(5)
    for whitespace in (True, False):
        config = ShingleNormalizeConfig(whitespace=whitespace, lowercase=False, unicode=False)
        for _ in range(200):
            text = "".join(chr(rng.randrange(128)) for _ in range(rng.randrange(60)))
            slow = module._PUNCTUATION.sub(" " if whitespace else "", text)
            if whitespace:
                slow = " ".join(slow.split())
            assert module.normalize(text, config) == slow
