"""Bits per byte: the text's cross-entropy in bits over its UTF-8 bytes, by hand on a small case,
and the bytes behind token ids even where a row cuts a character or a document in two."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.config import load_config
from llm_pretrain.stages import run_extract
from llm_pretrain.tokenizer.bpe import BpeTokenizer
from llm_pretrain.train.data import open_token_data
from llm_pretrain.train.evaluate import evaluate
from llm_pretrain.train.runtime import Runtime
from tests.train.helpers import TINY

CPU = Runtime(0, 1, 0, torch.device("cpu"), None, torch.float32, False)  # type: ignore[arg-type]
EOT = 3
TOKEN_BYTES = np.array([1, 2, 3, 0])  # ids 0..2 are text of 1, 2 and 3 bytes; 3 is end-of-text
PROBABILITIES = [0.1, 0.2, 0.3, 0.4]  # the same prediction at every position


class Rows:
    """Packed rows as the token shards give them: (ids, how many are real)."""

    def __init__(self, rows: list[tuple[list[int], int]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        ids, length = self.rows[index]
        return np.array(ids), length


class Constant(torch.nn.Module):
    """A model that predicts PROBABILITIES whatever it is given."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits = torch.log(torch.tensor(PROBABILITIES))
        return logits.expand(*ids.shape, len(PROBABILITIES))


def test_bits_per_byte_by_hand():
    # Row 0: a document ends (EOT) inside it and the next begins. Row 1: its last two ids are
    # padding (length 3), which count in neither the loss nor the bytes.
    rows = Rows([([0, 1, 2, EOT, 0], 5), ([2, 0, EOT, EOT, EOT], 3)])
    result = evaluate(Constant(), rows, CPU, batch_rows=1, token_bytes=TOKEN_BYTES)
    targets = [1, 2, EOT, 0] + [0, EOT]  # every real target
    nats = [-math.log(PROBABILITIES[t]) for t in targets]
    assert result.tokens == 6
    assert math.isclose(result.loss, sum(nats) / 6, rel_tol=1e-6)
    text = [t for t in targets if t != EOT]  # end-of-text is not text: in neither sum
    assert result.text_bytes == sum(int(TOKEN_BYTES[t]) for t in text) == 2 + 3 + 1 + 1
    expected = sum(-math.log(PROBABILITIES[t]) for t in text) / math.log(2) / 7
    assert result.bpb is not None and math.isclose(result.bpb, expected, rel_tol=1e-6)


def test_without_the_byte_table_there_is_no_bits_per_byte():
    result = evaluate(Constant(), Rows([([0, 1, 2], 3)]), CPU, batch_rows=4)
    assert result.bpb is None and result.tokens == 2


def test_the_bytes_of_ids_are_the_bytes_of_the_text_even_cut_inside_a_character(token_data):
    tokenizer = BpeTokenizer.load(token_data)
    table = tokenizer.token_bytes()
    assert table[tokenizer.eot_id] == 0 and len(table) == tokenizer.vocab_size
    text = "naïve café: 日本語の文章, Ελληνικά, and plain words"
    ids = tokenizer.encode(text)
    assert int(table[ids].sum()) == len(text.encode("utf-8"))
    # A small vocabulary spells rare characters byte by byte: some id is part of a character.
    bytes_of = {rank: token for token, rank in tokenizer.ranks.items()}
    partial = [i for i in ids if not _is_utf8(bytes_of[i])]
    assert partial
    cut = ids.index(partial[0]) + 1  # a row boundary inside that character
    assert int(table[ids[:cut]].sum() + table[ids[cut:]].sum()) == len(text.encode("utf-8"))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_training_and_eval_report_bits_per_byte(token_data: Path, tmp_path):
    data = open_token_data(token_data)
    assert data.token_bytes is not None
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(token_data), "--out", str(out), *TINY, "max_steps=4"]
    trained = CliRunner().invoke(train, [*args, "--json"])
    assert trained.exit_code == 0, trained.output
    lines = [line for line in (out / "metrics.jsonl").read_text().splitlines() if "val_bpb" in line]
    assert lines and all('"val_bpb": null' not in line for line in lines)
    evaluated = CliRunner().invoke(
        train, ["eval", "--checkpoint", str(out), "--data", str(token_data), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.output)
    assert result["bpb"] > 0 and result["text_bytes"] > result["tokens"]  # > 1 byte per token
    expected = result["loss"] * result["tokens"] / math.log(2) / result["text_bytes"]
    assert result["bpb"] < expected  # the end-of-text targets' loss is left out


def test_eval_on_held_out_text_any_form_gives_the_same_bits_per_byte(token_data, tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(token_data), "--out", str(out), *TINY, "max_steps=2"]
    assert CliRunner().invoke(train, args).exit_code == 0
    texts = [
        "The river authority published a survey of the northern coast.",
        "Caf\u00e9 owners along the shore reported a quiet season.\nSecond line.",
        "Engineers compared the water levels with records from the last century.",
    ]
    (tmp_path / "txt").mkdir()
    for number, text in enumerate(texts):
        (tmp_path / "txt" / f"doc-{number}.txt").write_text(text, encoding="utf-8")
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")

    def evaluated(*more: str) -> dict:
        done = CliRunner().invoke(train, ["eval", "--checkpoint", str(out), *more, "--json"])
        assert done.exit_code == 0, done.output
        return json.loads(done.output)

    from_txt = evaluated("--text", str(tmp_path / "txt"))
    from_jsonl = evaluated("--text", str(jsonl))
    assert from_txt["split"] == "text" and from_txt["bpb"] > 0
    # Every byte of the texts counts but those of each row's first id, which nothing predicts.
    tokenizer = BpeTokenizer.load(token_data)
    ids = [i for t in texts for i in [*tokenizer.encode(t), tokenizer.eot_id]]
    first_ids = ids[:: open_token_data(token_data).seq_len + 1]
    unpredicted = int(tokenizer.token_bytes()[first_ids].sum())
    assert from_txt["text_bytes"] == sum(len(t.encode("utf-8")) for t in texts) - unpredicted
    dataset = tmp_path / "extracted"
    run_extract([str(tmp_path / "txt")], dataset, load_config(None), show_progress=False)
    from_dataset = evaluated("--text", str(dataset))
    for other in (from_jsonl, from_dataset):
        assert {k: other[k] for k in ("loss", "bpb", "tokens", "text_bytes")} == {
            k: from_txt[k] for k in ("loss", "bpb", "tokens", "text_bytes")
        }


def test_eval_refuses_text_it_cannot_read_and_wants_one_source(token_data, tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(token_data), "--out", str(out), *TINY, "max_steps=1"]
    assert CliRunner().invoke(train, args).exit_code == 0
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "photo.png").write_bytes(b"\x89PNG")
    eval_ = ["eval", "--checkpoint", str(out)]
    wrong = CliRunner().invoke(train, [*eval_, "--text", str(tmp_path / "held")])
    assert wrong.exit_code == 1 and "photo.png: not a text to evaluate on" in wrong.output
    both = CliRunner().invoke(train, [*eval_, "--data", str(token_data), "--text", str(out)])
    neither = CliRunner().invoke(train, eval_)
    assert both.exit_code == neither.exit_code == 2
    assert "give --data TOKENS or --text PATH" in neither.output
    (tmp_path / "empty.txt").write_text("  \n")
    nested = tmp_path / "nested.jsonl"
    nested.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    for path, message in [(tmp_path / "empty.txt", "holds no text to evaluate on"),
                          (nested, "nested.jsonl:1 is not a JSON object")]:  # fmt: skip
        refused = CliRunner().invoke(train, [*eval_, "--text", str(path)])
        assert refused.exit_code == 1 and message in refused.output, refused.output
    split = CliRunner().invoke(train, [*eval_, "--text", str(tmp_path / "held"), "--split", "val"])
    assert split.exit_code == 2 and "--split chooses a split of --data" in split.output


def test_eval_text_leaves_hidden_files_out_and_takes_any_case_and_any_string(token_data, tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(token_data), "--out", str(out), *TINY, "max_steps=1"]
    assert CliRunner().invoke(train, args).exit_code == 0
    held = tmp_path / "held"
    (held / ".git").mkdir(parents=True)
    (held / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (held / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (held / "NOTES.TXT").write_text("Field notes on the northern coast and its water levels.")
    (held / "odd.jsonl").write_text(json.dumps({"text": "a lone \ud800 surrogate, kept"}) + "\n")
    done = CliRunner().invoke(train, ["eval", "--checkpoint", str(out), "--text", str(held)])
    assert done.exit_code == 0, done.output
    assert "bits/byte" in done.output
