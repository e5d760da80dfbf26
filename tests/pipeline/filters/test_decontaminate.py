"""`decontaminate`: planted 13-gram overlaps with eval sets go, near misses (12-grams) stay,
spans are cut with GPT-3's margins, every eval-set form is read, and bad eval sets are refused
in one line."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.filters.decontaminate import (
    REMOVED_COLUMN,
    Decontaminate,
    DecontaminateConfig,
    DecontaminateError,
)
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import run_extract, run_filter
from tests.pipeline.filters.documents import doc_of

# An eval question of 29 words, and filler that shares none of its 13-grams.
QUESTION = (
    "Which of the following best explains why the boiling point of water decreases at high "
    "altitude where the atmospheric pressure is lower than it is at sea level today"
)
Q = QUESTION.split()


def filler(seed: int, count: int) -> str:
    rng = random.Random(seed)
    vocabulary = "river stone lamp orchard copper meadow violin harbor candle thistle".split()
    return " ".join(rng.choice(vocabulary) for _ in range(count))


@pytest.fixture
def eval_txt(tmp_path):
    path = tmp_path / "evals" / "physics_qa.txt"
    path.parent.mkdir()
    path.write_text(QUESTION + "\n")
    return path


def step(*paths, **settings) -> Decontaminate:
    return Decontaminate(DecontaminateConfig(eval_files=[str(p) for p in paths], **settings))


def test_thirteen_shared_words_reject_and_twelve_do_not(eval_txt):
    decontaminate = step(eval_txt)
    # Case, punctuation and spacing differ: words are compared normalised.
    planted = " ".join(Q[5:18]).upper().replace(" ", ",  ")
    assert decontaminate.apply(doc_of(text=f"{filler(1, 40)} {planted}. {filler(2, 40)}")) == (
        "physics_qa"
    )
    near_miss = " ".join(Q[5:17])  # 12 words
    assert decontaminate.apply(doc_of(text=f"{filler(1, 40)} {near_miss} {filler(2, 40)}")) is None
    gapped = " ".join(Q[0:12] + ["zebra"] + Q[13:25])  # no 13 consecutive words in common
    assert decontaminate.apply(doc_of(text=gapped)) is None
    assert decontaminate.apply(doc_of(text=filler(3, 500))) is None
    assert decontaminate.counts == {"matched:physics_qa": 1}


def test_remove_spans_cuts_the_match_with_its_margins(eval_txt):
    decontaminate = step(eval_txt, mode="remove_spans")
    before, after = filler(4, 150), filler(5, 150)
    text = f"{before} {' '.join(Q[:20])} {after}"
    doc = doc_of(text=text)
    assert decontaminate.apply(doc) is None
    start, end = len(before) + 1, len(before) + 1 + len(" ".join(Q[:20]))
    assert doc.text == f"{text[: start - 200].strip()}\n\n{text[end + 200 :].strip()}"
    assert doc.annotations[REMOVED_COLUMN] == len(text) - len(doc.text)
    assert decontaminate.counts["spans_removed"] == 1
    # Nothing worth keeping is left: the document goes.
    assert decontaminate.apply(doc_of(text=f"short {' '.join(Q[:14])} tail")) == "physics_qa"
    # More stretches than max_spans: the document goes too.
    many = " ".join(f"{' '.join(Q[:13])} {filler(n, 60)}" for n in range(3))
    assert step(eval_txt, mode="remove_spans", max_spans=2).apply(doc_of(text=many)) == (
        "physics_qa"
    )


def test_every_eval_set_form_is_read_and_named(tmp_path):
    sets = tmp_path / "sets"
    (sets / "folder_set").mkdir(parents=True)
    (sets / "folder_set" / "a.md").write_text(" ".join(Q[:14]))
    (sets / "lines.jsonl").write_text(json.dumps({"question": " ".join(Q[10:24])}) + "\n")
    pq.write_table(pa.table({"question": [" ".join(Q[15:29])]}), sets / "table.parquet")
    decontaminate = step(
        sets / "folder_set", sets / "lines.jsonl", sets / "table.parquet", text_field="question"
    )
    assert decontaminate.apply(doc_of(text=" ".join(Q[:13]))) == "folder_set"
    assert decontaminate.apply(doc_of(text=" ".join(Q[11:24]))) == "lines"
    assert decontaminate.apply(doc_of(text=" ".join(Q[16:29]))) == "table"


def test_bad_eval_sets_are_refused_in_one_line(tmp_path, eval_txt):
    short = tmp_path / "short.txt"
    short.write_text("only a few words here")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    cases = [
        ([], "eval_files is empty"),
        ([tmp_path / "missing.txt"], "missing.txt does not exist"),
        ([short], "has no text of 13 words or more"),
        ([binary], "is not UTF-8 text"),
        ([image], "photo.png: not a text of an eval set"),
        ([eval_txt, tmp_path / "evals"], None),  # two sets may share n-grams...
        ([eval_txt, eval_txt], "named alike"),  # ...but not a name
    ]
    for paths, message in cases:
        if message is None:
            step(*paths)
            continue
        with pytest.raises(DecontaminateError, match=message):
            step(*paths)


@pytest.fixture
def extracted(tmp_path, config):
    folder = tmp_path / "jsonl"
    folder.mkdir()
    texts = {
        "leak": f"{filler(1, 80)} {' '.join(Q[3:20])} {filler(2, 80)}",
        "near": f"{filler(3, 80)} {' '.join(Q[3:15])} {filler(4, 80)}",
        "clean": filler(5, 200),
    }
    rows = [{"text": text, "url": f"https://x.org/{name}"} for name, text in texts.items()]
    (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_extract([str(folder)], tmp_path / "ex", config, show_progress=False)
    return tmp_path / "ex"


def test_the_filter_records_the_eval_set_and_reruns_when_it_changes(
    tmp_path, config, extracted, eval_txt
):
    args = ["filter", "-i", extracted, "-o", tmp_path / "fi", "--workers", "1", "-q"]
    args += ["--set", "filter.steps=[decontaminate]"]
    args += ["--set", f"filter.decontaminate.eval_files=[{eval_txt}]"]
    args = [str(a) for a in args]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 0, result.output
    rejected = {r["url"]: r["reason"] for r in read_table(tmp_path / "fi", True).to_pylist()}
    assert rejected == {"https://x.org/leak": "decontaminate:physics_qa"}
    assert sorted(r["url"] for r in read_table(tmp_path / "fi").to_pylist()) == [
        "https://x.org/clean",
        "https://x.org/near",
    ]
    assert "up to date" in CliRunner().invoke(data, args).output
    eval_txt.write_text(" ".join(filler(5, 200).split()[:20]))  # now the clean one leaked
    again = CliRunner().invoke(data, [*args, "--overwrite"])
    assert again.exit_code == 0 and "up to date" not in again.output
    rejected = {r["url"]: r["reason"] for r in read_table(tmp_path / "fi", True).to_pylist()}
    assert set(rejected) == {"https://x.org/clean"}


def test_a_missing_eval_set_is_one_line_from_the_command(tmp_path, extracted):
    args = ["filter", "-i", str(extracted), "-o", str(tmp_path / "fi"), "--workers", "1", "-q"]
    args += ["--set", "filter.steps=[decontaminate]"]
    args += ["--set", f"filter.decontaminate.eval_files=[{tmp_path / 'nope.jsonl'}]"]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 2
    assert "nope.jsonl does not exist" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "fi").exists()


def test_filter_run_without_the_step_keeps_its_fingerprint(tmp_path, config, extracted):
    """Adding the step's config section changes nothing for runs that do not use it."""
    summary = run_filter(extracted, tmp_path / "fi", config, show_progress=False)
    assert all("step_files" not in i for i in summary.manifest["inputs"])


def test_remove_spans_cuts_the_passages_of_every_eval_set(tmp_path):
    (tmp_path / "qa.txt").write_text(QUESTION)
    other = "the committee approved seven new bridges over the eastern canal in a single vote today"
    (tmp_path / "qb.txt").write_text(other)
    decontaminate = step(tmp_path / "qa.txt", tmp_path / "qb.txt", mode="remove_spans")
    text = f"{filler(1, 120)} {QUESTION} {filler(2, 120)} {other} {filler(3, 120)}"
    doc = doc_of(text=text)
    assert decontaminate.apply(doc) is None
    assert "boiling" not in doc.text and "committee" not in doc.text
    assert decontaminate.counts == {"matched:qa": 1, "matched:qb": 1, "spans_removed": 2}


def test_words_that_change_length_when_normalised_match_in_both_modes(tmp_path):
    """ "İ".lower() is two characters; both passes must still find the same words."""
    text = "İstanbul " + " ".join(f"word{n}" for n in range(14))
    (tmp_path / "turkish.txt").write_text(text)
    doc_text = f"{filler(1, 100)} {text} {filler(2, 100)}"
    assert step(tmp_path / "turkish.txt").apply(doc_of(text=doc_text)) == "turkish"
    doc = doc_of(text=doc_text)
    assert step(tmp_path / "turkish.txt", mode="remove_spans").apply(doc) is None
    assert "İstanbul" not in doc.text and doc.annotations[REMOVED_COLUMN] > 0


def test_eval_files_as_other_tools_write_them(tmp_path):
    """A JSON string may hold U+2028 (json.dumps with ensure_ascii=False writes it raw), and
    pandas or polars write large_string columns."""
    (tmp_path / "sep.jsonl").write_text(
        json.dumps({"text": " ".join(Q[:14]) + "\u2028more"}, ensure_ascii=False) + "\n"
    )
    pq.write_table(pa.table({"text": pa.array([" ".join(Q[14:29])], pa.large_string())}),
                   tmp_path / "large.parquet")  # fmt: skip
    decontaminate = step(tmp_path / "sep.jsonl", tmp_path / "large.parquet")
    assert decontaminate.apply(doc_of(text=" ".join(Q[:13]))) == "sep"
    assert decontaminate.apply(doc_of(text=" ".join(Q[15:28]))) == "large"
    assert [i["texts"] for i in decontaminate.identities()] == [1, 1]


def test_short_eval_texts_are_counted_in_the_manifest(tmp_path, config, extracted):
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps({"text": QUESTION}) + "\n" + json.dumps({"text": "What is 2 + 2?"}) + "\n"
    )
    config.filter.steps = ["decontaminate"]
    config.filter.decontaminate.eval_files = [str(tmp_path / "mixed.jsonl")]
    summary = run_filter(extracted, tmp_path / "fi", config, show_progress=False)
    (files,) = [i["step_files"] for i in summary.manifest["inputs"] if "step_files" in i]
    assert files[0]["name"] == "mixed" and files[0]["texts"] == 2 and files[0]["too_short"] == 1


def test_an_eval_set_inside_the_output_is_refused_before_anything_is_deleted(
    tmp_path, config, extracted
):
    out = tmp_path / "fi"
    (out / "_rejected").mkdir(parents=True)
    inside = out / "_rejected" / "ev.txt"
    inside.write_text(QUESTION)
    config.filter.steps = ["decontaminate"]
    config.filter.decontaminate.eval_files = [str(inside)]
    with pytest.raises(StageError, match="eval set"):
        run_filter(extracted, out, config, show_progress=False, overwrite=True)
    assert inside.read_text() == QUESTION


def test_a_folder_that_cannot_be_listed_is_an_error_not_a_smaller_set(tmp_path, monkeypatch):
    import os

    (tmp_path / "set" / "locked").mkdir(parents=True)
    (tmp_path / "set" / "a.txt").write_text(QUESTION)
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DecontaminateError, match="cannot list .*locked"):
        step(tmp_path / "set")


def test_the_bitmap_answers_as_a_plain_membership_test():
    import numpy as np

    from llm_pretrain.pipeline.filters.decontaminate import EvalSet

    rng = np.random.default_rng(3)
    ngrams = np.unique(rng.integers(0, 2**64 - 1, 50_000, dtype=np.uint64))
    found = EvalSet("x", ngrams, 1, 0)
    queries = np.concatenate([ngrams[::7], rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64)])
    assert np.array_equal(found.contains(queries), np.isin(queries, ngrams))


def test_ascii_texts_hash_their_words_as_word_by_word_hashing_does():
    """The numpy path for ASCII text (prefix sums of code points) gives each word the hash the
    word-by-word path gives it, which other texts, and matched documents' spans, use."""
    import numpy as np

    from llm_pretrain.pipeline.filters import decontaminate as module

    rng = random.Random(1)
    alphabet = "abcXYZ019_ .,;-\n\t"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(300))) for _ in range(500)]
    texts += [filler(7, 5000), "", "...", QUESTION]  # longer than any before: powers grow
    for text in texts:
        words = module._WORD.findall(text)
        expected = np.array([module._word_hashes[module.token(w)] for w in words], np.uint64)
        assert np.array_equal(module.text_word_hashes(text), expected), text


def test_no_ngram_crosses_from_one_eval_text_to_the_next(tmp_path):
    """Eval texts are hashed together; an n-gram made of the end of one and the start of the
    next is not one of the set's."""
    first, second = " ".join(Q[:8]), " ".join(Q[8:16])  # 8 + 8 words, 13 only together
    (tmp_path / "pair.jsonl").write_text(
        json.dumps({"text": first}) + "\n" + json.dumps({"text": second}) + "\n"
        + json.dumps({"text": " ".join(Q[16:29])}) + "\n"
    )  # fmt: skip
    decontaminate = step(tmp_path / "pair.jsonl")
    assert decontaminate.apply(doc_of(text=" ".join(Q[:16]))) is None
    assert decontaminate.apply(doc_of(text=" ".join(Q[16:29]))) == "pair"
    assert decontaminate.identities()[0]["too_short"] == 2
