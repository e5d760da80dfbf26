"""The trained tokenizer: its shape, its special tokens, and the same ids from tiktoken (ours),
Hugging Face `tokenizers` and `transformers` reading the saved files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import transformers
from tokenizers import Tokenizer

from llm_pretrain.samples import paragraph
from llm_pretrain.tokenizer.bpe import (
    END_OF_TEXT,
    TOKENIZER_FILE,
    BpeTokenizer,
    TokenizerError,
    train_bpe,
)
from llm_pretrain.tokenizer.encoding import BulkEncoder, with_end_of_text

VARIED = [
    "Hello  world!\r\n\r\n  tabs\tand   spaces  ",
    "emoji 🎉🎉 naïve café — “quotes” and ‘single’ ones",
    "中文字符和日本語のテキスト、한국어",
    "12345678 3.14159 1e-10 0x1F -42",
    "def f(x):\n    return x**2\n\n\n",
    "   leading and trailing   ",
    "I'm sure you'LL see WE'VE it's",
    "\u00a0no-break\u2003em space\u200bzero width",
    "\x00\x01 control \x7f bytes",
    "",
]


def corpus(documents: int = 300) -> list[str]:
    rng = random.Random(0)
    texts = [paragraph(rng, 6) for _ in range(documents)]
    texts += ["def add(a, b):\n    return a + b\n"] * 20 + VARIED * 5
    return texts


@pytest.fixture(scope="module")
def trained() -> BpeTokenizer:
    return train_bpe(corpus(), vocab_size=700, special_tokens=["<|pad|>"])


def test_shape_of_the_vocabulary(trained):
    assert trained.vocab_size == 700
    assert all(trained.ranks[bytes([b])] == b for b in range(256))
    assert sorted(trained.ranks.values()) == list(range(698))
    assert trained.special_tokens == {END_OF_TEXT: 698, "<|pad|>": 699}


def test_round_trip_on_adversarial_text(trained):
    for text in [*VARIED, "".join(map(chr, range(1, 3000, 7))), "\ud7ff\U0010fffd"]:
        assert trained.decode(trained.encode(text)) == text


def test_array_encoding_equals_list_encoding(trained):
    for text in [*VARIED, f"a {END_OF_TEXT} b <|pad|>"]:
        ids = trained.encode_array(text)
        assert ids.dtype == "uint32" and ids.tolist() == trained.encode(text)


def test_special_tokens_are_never_learned():
    texts = [f"{paragraph(random.Random(i), 2)}{END_OF_TEXT}" * 20 for i in range(50)]
    tokenizer = train_bpe(texts, vocab_size=400)
    assert not any(b"endoftext" in token or b"<|" in token for token in tokenizer.ranks)
    # In documents the marker is plain text; the id comes only from packing (or on request).
    assert tokenizer.eot_id not in tokenizer.encode(f"a{END_OF_TEXT}b")
    assert tokenizer.encode_with_specials(f"a{END_OF_TEXT}b")[1] == tokenizer.eot_id


@pytest.mark.parametrize("pattern", ["gpt4", "gpt2"])
def test_hugging_face_files_give_our_ids(tmp_path, pattern):
    tokenizer = train_bpe(corpus(), vocab_size=600, pattern=pattern)
    tokenizer.save(tmp_path)
    hf = Tokenizer.from_file(str(tmp_path / TOKENIZER_FILE))
    for text in [*VARIED, *corpus(5), f"one{END_OF_TEXT}two"]:
        assert hf.encode(text).ids == tokenizer.encode_with_specials(text), repr(text)
        assert hf.decode(tokenizer.encode(text)) == text


@pytest.mark.parametrize("pattern", ["gpt4", "gpt2"])
def test_the_bulk_encoder_gives_our_ids(tmp_path, pattern):
    """fastokens (the corpus encoder) on the saved file == tiktoken on the ranks, special
    tokens written in the text being text, with the end-of-text id after each document."""
    tokenizer = train_bpe(corpus(), vocab_size=600, pattern=pattern, special_tokens=["<|pad|>"])
    tokenizer.save(tmp_path)
    texts = [t for t in [*VARIED, *corpus(20), f"one{END_OF_TEXT}two <|pad|>", "x" * 5000] if t]
    ids, offsets = BulkEncoder(tmp_path / TOKENIZER_FILE).encode(texts)
    stream = with_end_of_text(ids, offsets, tokenizer.eot_id, np.dtype(np.uint16))
    expected = [i for text in texts for i in [*tokenizer.encode(text), tokenizer.eot_id]]
    assert stream.tolist() == expected


def test_transformers_loads_the_folder_unchanged(tmp_path, trained):
    trained.save(tmp_path, max_length=1024)
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert isinstance(auto, transformers.PreTrainedTokenizerFast)
    for text in VARIED:
        assert auto(text)["input_ids"] == trained.encode(text)
    assert auto.eos_token == END_OF_TEXT and auto.eos_token_id == trained.eot_id
    assert auto.model_max_length == 1024


def test_save_and_load_round_trip(tmp_path, trained):
    trained.save(tmp_path)
    loaded = BpeTokenizer.load(tmp_path)
    assert loaded.ranks == trained.ranks
    assert loaded.pattern == trained.pattern
    assert loaded.special_tokens == trained.special_tokens
    assert loaded.fingerprint() == trained.fingerprint()


def test_clear_errors(tmp_path):
    with pytest.raises(TokenizerError, match="no room"):
        train_bpe(corpus(10), vocab_size=200)
    with pytest.raises(TokenizerError, match="too few distinct pairs"):
        train_bpe(["ab ab ab"], vocab_size=400)
    (tmp_path / TOKENIZER_FILE).write_text('{"model": {}}')
    with pytest.raises(TokenizerError, match="not a byte-level BPE"):
        BpeTokenizer.load(tmp_path)
    with pytest.raises(TokenizerError, match="cannot read"):
        BpeTokenizer.load(tmp_path / "missing")
