"""`llm-data tokenize` end to end: every token packed once, a stable held-out split, a tokenizer
transformers loads with our ids, reuse of a tokenizer, and a killed run that resumes exactly."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import transformers
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_dedup, run_extract, run_tokenize
from llm_pretrain.storage import file_sha256
from llm_pretrain.tokenizer.bpe import END_OF_TEXT, BpeTokenizer, TokenizerError
from llm_pretrain.tokenizer.packing import documents_of
from llm_pretrain.tokenizer.patterns import resolve_pattern
from llm_pretrain.tokenizer.sampling import picked, text_key, validation_salt
from llm_pretrain.tokenizer.shards import open_split
from llm_pretrain.tokenizer.training import REPORT_FILE
from tests.pipeline.helpers import assert_kill_and_rerun_is_identical

FILES, DOCUMENTS_PER_FILE = 8, 30


def write_documents(folder: Path, files: int, seed: int = 0) -> None:
    """`files` JSONL files of varied documents (some with special tokens written in them, and
    one empty), each file its own input shard."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rows = []
        for d in range(DOCUMENTS_PER_FILE):
            text = paragraph(rng, rng.randint(1, 12))
            if d % 11 == 0:
                text += f" {END_OF_TEXT} written in the text, 12345 🎉 中文\r\n"
            rows.append({"text": text, "url": f"https://example.org/{seed}/{f}/{d}"})
        (folder / f"docs-{seed}-{f:03d}.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"
        )


@pytest.fixture
def tokenize_config(config):
    config.extract.task_max_files = 1
    config.tokenizer.vocab_size = 400
    config.tokenize.seq_len = 31
    config.tokenize.val_fraction = 0.1
    return config


@pytest.fixture
def dataset(tmp_path, tokenize_config) -> Path:
    write_documents(tmp_path / "in", FILES)
    run_extract([str(tmp_path / "in")], tmp_path / "docs", tokenize_config, show_progress=False)
    return tmp_path / "docs"


def split_stream(folder: Path, split: str) -> np.ndarray:
    """The real ids of a split's rows, in order (the padding of the last row left out)."""
    reader = open_split(folder, split)
    parts = [ids[:length] for ids, length in reader]
    return np.concatenate(parts) if parts else np.empty(0, np.uint16)


def test_every_token_once_in_document_order(dataset, tmp_path, tokenize_config):
    out = tmp_path / "tok"
    summary = run_tokenize(dataset, out, tokenize_config, show_progress=False)
    manifest = summary.manifest
    tokenizer = BpeTokenizer.load(out)
    rule = validation_salt(0)
    documents = read_table(dataset).to_pylist()
    expected = {"train": [], "val": []}
    for row in documents:
        split = "val" if picked(text_key(row["text"]), 0.1, rule) else "train"
        expected[split].append(tokenizer.encode(row["text"]))
    assert expected["val"] and expected["train"]
    for split, docs in expected.items():
        stream = split_stream(out, split)
        assert documents_of(stream, tokenizer.eot_id) == docs  # boundaries recoverable
        assert len(stream) == sum(len(d) + 1 for d in docs) == manifest["splits"][split]["tokens"]
        reader = open_split(out, split)
        assert len(reader) == manifest["splits"][split]["rows"] == -(-len(stream) // 32)
        assert all(length == 32 for _, length in list(reader)[:-1])
    shard = manifest["splits"]["train"]["shards"][0]
    assert polars.read_ipc(out / shard["file"]).shape == (shard["rows"], 2)  # other readers
    assert manifest["counts"] == {"documents": len(documents), "tokens": summary.stats["tokens"]}
    assert manifest["tokenizer"]["sha256"] == tokenizer.fingerprint()
    assert manifest["tokenizer"]["dtype"] == "uint16" and manifest["row_len"] == 32
    assert sum(summary.stats["tokens_per_document"].values()) == len(documents)
    assert json.loads((out / REPORT_FILE).read_text())["trained_on"]["documents"] == len(
        expected["train"]
    )  # the validation documents are not in the tokenizer's training sample


def test_transformers_loads_the_output_with_our_ids(dataset, tmp_path, tokenize_config):
    """On a deduplicated dataset, as in the pipeline."""
    deduped, out = tmp_path / "deduped", tmp_path / "tok"
    run_dedup(dataset, deduped, tokenize_config, show_progress=False)
    dataset = deduped
    run_tokenize(dataset, out, tokenize_config, show_progress=False)
    hf = transformers.AutoTokenizer.from_pretrained(out)
    ours = BpeTokenizer.load(out)
    stream = split_stream(out, "train")
    first = documents_of(stream, ours.eot_id)[0]
    text = read_table(dataset).column("text")[0].as_py()
    assert hf(text, split_special_tokens=True)["input_ids"] == ours.encode(text)
    assert hf.decode(first) == ours.decode(first)
    assert hf.eos_token_id == ours.eot_id and hf.model_max_length == 31


def test_validation_split_is_stable_as_the_corpus_grows(tmp_path, tokenize_config):
    write_documents(tmp_path / "in", 3)
    run_extract([str(tmp_path / "in")], tmp_path / "small", tokenize_config, show_progress=False)
    write_documents(tmp_path / "in", 3, seed=1)  # more documents, in new files
    run_extract([str(tmp_path / "in")], tmp_path / "big", tokenize_config, show_progress=False)
    run_tokenize(tmp_path / "small", tmp_path / "a", tokenize_config, show_progress=False)
    tokenize_config.tokenize.seq_len = 50  # another packing does not move documents
    run_tokenize(tmp_path / "big", tmp_path / "b", tokenize_config, tmp_path / "a", False)
    tokenizer = BpeTokenizer.load(tmp_path / "a")

    def texts(folder: Path, split: str) -> set[str]:
        stream = split_stream(folder, split)
        return {tokenizer.decode(d) for d in documents_of(stream, tokenizer.eot_id)}

    small_val, big_val = texts(tmp_path / "a", "val"), texts(tmp_path / "b", "val")
    assert small_val and small_val < big_val
    assert not small_val & texts(tmp_path / "b", "train")
    assert not big_val & texts(tmp_path / "b", "train")


def test_a_reused_tokenizer_is_copied_byte_for_byte(dataset, tmp_path, tokenize_config):
    run_tokenize(dataset, tmp_path / "first", tokenize_config, show_progress=False)
    tokenize_config.tokenizer.vocab_size = 999  # ignored: the tokenizer is not trained
    summary = run_tokenize(
        dataset, tmp_path / "again", tokenize_config, tmp_path / "first", show_progress=False
    )
    first, again = tmp_path / "first" / "tokenizer.json", tmp_path / "again" / "tokenizer.json"
    assert first.read_bytes() == again.read_bytes()
    assert not (tmp_path / "again" / REPORT_FILE).exists()
    assert summary.manifest["tokenizer"]["source"] == str(first)
    assert summary.manifest["inputs"][1]["sha256"] == summary.manifest["tokenizer"]["sha256"]
    shards = [s["sha256"] for s in summary.manifest["splits"]["train"]["shards"]]
    reference = json.loads((tmp_path / "first" / "_manifest.json").read_text())
    assert shards == [s["sha256"] for s in reference["splits"]["train"]["shards"]]


def test_bounded_shards(dataset, tmp_path, tokenize_config):
    tokenize_config.tokenize.shard_max_bytes = 32 * 2 * 40  # 40 rows of uint16 ids
    summary = run_tokenize(dataset, tmp_path / "tok", tokenize_config, show_progress=False)
    train = summary.manifest["splits"]["train"]
    assert len(train["shards"]) > 3
    assert all(shard["rows"] == 40 for shard in train["shards"][:-1])
    assert sum(shard["rows"] for shard in train["shards"]) == train["rows"]


def test_a_vocabulary_above_65536_packs_uint32(dataset, tmp_path, tokenize_config):
    """Every pair of bytes a token: 256 + 65,536 + 1 ids, more than uint16 holds."""
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({bytes([a, b]): 256 + 256 * a + b for a in range(256) for b in range(256)})
    big = BpeTokenizer(resolve_pattern("gpt4"), ranks, {END_OF_TEXT: len(ranks)})
    big.save(tmp_path / "big")
    summary = run_tokenize(dataset, tmp_path / "tok", tokenize_config, tmp_path / "big", False)
    assert summary.manifest["tokenizer"]["dtype"] == "uint32"
    stream = split_stream(tmp_path / "tok", "train")
    assert stream.dtype == np.uint32 and stream.max() > 65_535
    texts = [big.decode(d) for d in documents_of(stream, big.eot_id)]
    assert texts == [t for t in read_table(dataset).column("text").to_pylist() if t in texts]


def test_too_large_a_vocabulary_for_the_text_is_a_clear_error(dataset, tmp_path, tokenize_config):
    tokenize_config.tokenizer.vocab_size = 70_000
    with pytest.raises(TokenizerError, match="too few distinct pairs"):
        run_tokenize(dataset, tmp_path / "tok", tokenize_config, show_progress=False)


def test_a_corpus_held_out_whole_names_the_split_not_the_vocabulary(tmp_path, tokenize_config):
    """Two documents at val_fraction 0.5: a split seed that holds both out leaves the tokenizer
    no text, and the error says so (it blamed the vocabulary size)."""
    (tmp_path / "in").mkdir()
    rows = [{"text": paragraph(random.Random(i), 8), "url": f"https://x.org/{i}"} for i in (1, 2)]
    (tmp_path / "in" / "two.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_extract([str(tmp_path / "in")], tmp_path / "docs", tokenize_config, show_progress=False)
    keys = [text_key(t) for t in read_table(tmp_path / "docs").column("text").to_pylist()]
    tokenize_config.tokenize.val_fraction = 0.5
    tokenize_config.tokenize.split_seed = next(
        seed for seed in range(1000) if all(picked(k, 0.5, validation_salt(seed)) for k in keys)
    )
    with pytest.raises(TokenizerError, match="every document .* fell into the validation split"):
        run_tokenize(tmp_path / "docs", tmp_path / "tok", tokenize_config, show_progress=False)


def test_a_finished_output_is_up_to_date_and_other_settings_refused(tmp_path, tokenize_config):
    write_documents(tmp_path / "in", 2)
    run_extract([str(tmp_path / "in")], tmp_path / "docs", tokenize_config, show_progress=False)
    out = tmp_path / "tok"
    first = run_tokenize(tmp_path / "docs", out, tokenize_config, show_progress=False)
    assert first.stats["empty_documents"] == 0
    again = run_tokenize(tmp_path / "docs", out, tokenize_config, show_progress=False)
    assert again.up_to_date and again.manifest == first.manifest
    tokenize_config.tokenize.seq_len = 64
    with pytest.raises(StageError, match="other inputs or settings"):
        run_tokenize(tmp_path / "docs", out, tokenize_config, show_progress=False)
    rerun = run_tokenize(tmp_path / "docs", out, tokenize_config, None, False, overwrite=True)
    assert rerun.manifest["row_len"] == 65


def test_documents_without_text_are_recorded_not_dropped(dataset, tmp_path, tokenize_config):
    shard = dataset / "part-00000.parquet"
    table = pq.read_table(shard)
    texts = table.column("text").to_pylist()
    texts[3] = ""
    pq.write_table(table.set_column(1, table.schema.field("text"), pa.array(texts)), shard)
    manifest = json.loads((dataset / "_manifest.json").read_text())  # as a stage would write it
    manifest["shards"][0].update(bytes=shard.stat().st_size, sha256=file_sha256(shard))
    (dataset / "_manifest.json").write_text(json.dumps(manifest))
    summary = run_tokenize(dataset, tmp_path / "tok", tokenize_config, show_progress=False)
    assert summary.stats["empty_documents"] == 1
    assert summary.stats["empty_document_ids"] == [table.column("id")[3].as_py()]
    assert summary.manifest["counts"]["documents"] == len(read_table(dataset)) - 1


def test_cli_prints_the_summary_and_refuses_document_stages_on_tokens(dataset, tmp_path):
    out = tmp_path / "tok"
    args = ["tokenize", "-i", str(dataset), "-o", str(out), "--vocab-size", "400"]
    result = CliRunner().invoke(data, [*args, "--seq-len", "31", "--val-fraction", "0.1", "-q"])
    assert result.exit_code == 0, result.output
    assert "tokens per document" in result.output and "bytes of text per token" in result.output
    result = CliRunner().invoke(data, ["filter", "-i", str(out), "-o", str(tmp_path / "f")])
    assert result.exit_code == 1 and "not documents" in result.output
    result = CliRunner().invoke(data, [*args, "--tokenizer", str(tmp_path / "missing")])
    assert result.exit_code == 2  # a usage error: the path does not exist
    (tmp_path / "empty").mkdir()
    other = ["-o", str(tmp_path / "t2"), "--tokenizer", str(tmp_path / "empty")]
    result = CliRunner().invoke(data, ["tokenize", "-i", str(dataset), *other])
    assert result.exit_code == 1 and "no tokenizer at" in result.output


def token_checksums(folder: Path) -> list[str]:
    manifest = json.loads((folder / "_manifest.json").read_text())
    shards = [s for split in manifest["splits"].values() for s in split["shards"]]
    return [manifest["tokenizer"]["sha256"], *(f"{s['file']}:{s['sha256']}" for s in shards)]


@pytest.mark.parametrize("phase", ["encode", "pack"])
def test_killed_tokenize_rerun_gives_identical_output(dataset, tmp_path, phase):
    args = ["tokenize", "-i", str(dataset), "-q", "--vocab-size", "400", "--seq-len", "31"]
    args += ["--workers", "1", "--set", "tokenize.shard_max_bytes=640"]  # many pack tasks
    markers = f"_progress/{phase}/task-*.json"
    out = assert_kill_and_rerun_is_identical(args, tmp_path, markers, token_checksums)
    assert not list(out.rglob(".*tmp*")) and not (out / "_progress").exists()


def test_the_same_inputs_elsewhere_give_the_same_tokens(tmp_path, tokenize_config):
    """Ids hold the input files' paths; the split and the tokenizer's sample do not depend on
    them, so a crawl moved (or a clone made) elsewhere gives the same token shards."""
    outputs = []
    for place in ("here", "there/deeper"):
        write_documents(tmp_path / place / "in", 3)
        docs, tokens = tmp_path / place / "docs", tmp_path / place / "tok"
        run_extract([str(tmp_path / place / "in")], docs, tokenize_config, show_progress=False)
        run_tokenize(docs, tokens, tokenize_config, show_progress=False)
        outputs.append({p.relative_to(tokens): p.read_bytes() for p in tokens.rglob("*.arrow")})
    assert (
        read_table(tmp_path / "here" / "docs")["id"]
        != read_table(tmp_path / "there/deeper" / "docs")["id"]
    )
    assert outputs[0] == outputs[1] and len(outputs[0]) == 2  # a train and a val shard
