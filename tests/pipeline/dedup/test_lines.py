"""Line and paragraph dedup (`dedup.lines`): documents with repeated lines, and the documents
expected after each mode; the index carries units across batches; kill and rerun."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.dedup.config import LinesConfig
from llm_pretrain.pipeline.dedup.index import INDEX_MANIFEST
from llm_pretrain.pipeline.dedup.lines import remove_units, removed_mask, split_units, unit_hash
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import run_dedup, run_extract
from tests.pipeline.dedup.corpus import write_jsonl
from tests.pipeline.helpers import assert_kill_and_rerun_is_identical

COOKIES = "We use cookies to improve your experience on this site."
SHARE = "Share this article on social media"


def own(name: str, n: int) -> str:
    """A line only document `name` has."""
    return f"Line {n} of {name} says something of its own about topic {name}{n} here."


def documents(separator: str = "\n") -> dict[str, str]:
    join = separator.join
    return {
        "a": join([own("a", 1), COOKIES, own("a", 2)]),
        "b": join([own("b", 1), COOKIES, SHARE, own("b", 2)]),
        # "Menu" is shorter than min_chars: never removed, however often it repeats.
        "c": join([own("c", 1), SHARE, own("c", 2), "Menu"]),
        "d": join([COOKIES, SHARE, "Menu", "tiny"]),  # nothing of its own: left too short
        # A line repeated within one document only is not a cross-document duplicate.
        "e": join([own("e", 1), own("e", 1), own("e", 2), "Menu"]),
    }


def expected(mode: str, separator: str = "\n") -> tuple[dict[str, str], set[str]]:
    """The texts kept after `mode`, and the documents rejected as too short."""
    join = separator.join
    if mode == "keep_first":
        kept = {
            "a": join([own("a", 1), COOKIES, own("a", 2)]),
            "b": join([own("b", 1), SHARE, own("b", 2)]),
            "c": join([own("c", 1), own("c", 2), "Menu"]),
        }
    else:
        kept = {
            "a": join([own("a", 1), own("a", 2)]),
            "b": join([own("b", 1), own("b", 2)]),
            "c": join([own("c", 1), own("c", 2), "Menu"]),
        }
    kept["e"] = documents(separator)["e"]
    return kept, {"d"}


def extracted(tmp_path, config, docs: dict[str, str], name: str = "ex"):
    write_jsonl(tmp_path / f"{name}-in", docs, per_file=2)
    config.extract.task_max_files = 1
    config.extract.min_chars = 1
    run_extract([str(tmp_path / f"{name}-in")], tmp_path / name, config, show_progress=False)
    return tmp_path / name


def by_name(folder, rejected: bool = False) -> dict[str, dict]:
    return {r["url"].rsplit("/", 1)[1]: r for r in read_table(folder, rejected).to_pylist()}


@pytest.mark.parametrize(("unit", "separator"), [("line", "\n"), ("paragraph", "\n\n")])
@pytest.mark.parametrize("mode", ["keep_first", "remove_repeated"])
def test_each_mode_gives_the_expected_documents(tmp_path, config, mode, unit, separator):
    source = extracted(tmp_path, config, documents(separator))
    config.dedup.lines = LinesConfig(mode=mode, unit=unit, min_document_chars=30)
    summary = run_dedup(source, tmp_path / "out", config, show_progress=False)
    kept_texts, too_short = expected(mode, separator)
    kept = by_name(tmp_path / "out")
    assert {name: row["text"] for name, row in kept.items()} == kept_texts
    rejected = by_name(tmp_path / "out", rejected=True)
    assert {name: row["reason"] for name, row in rejected.items()} == {
        name: f"duplicate_{unit}s:too_short" for name in too_short
    }
    assert rejected["d"]["text"] == documents(separator)["d"]  # rejected whole, for inspection
    removed = {n: (row["units_removed"], row["unit_bytes_removed"]) for n, row in kept.items()}
    originals = documents(separator)
    for name, text in kept_texts.items():
        units = removed[name][0]
        assert removed[name][1] == len(originals[name].encode()) - len(text.encode()) - (
            units * len(separator)
        )
    assert summary.stats["lines"]["units_removed"] == sum(u for u, _ in removed.values())
    assert summary.stats["lines"]["documents_changed"] == sum(u > 0 for u, _ in removed.values())
    assert summary.stats["rejected"] == {f"duplicate_{unit}s": 1}


def test_units_of_removed_duplicates_do_not_count(tmp_path, config):
    """A document removed as an exact duplicate neither loses lines nor marks them seen."""
    docs = documents()
    docs = {"a": docs["a"], "a_copy": docs["a"], "x": "\n".join([own("x", 1), COOKIES])}
    source = extracted(tmp_path, config, docs)
    config.dedup.lines = LinesConfig(mode="remove_repeated", min_document_chars=10)
    run_dedup(source, tmp_path / "out", config, show_progress=False)
    kept = by_name(tmp_path / "out")
    assert kept["a"]["text"] == "\n".join([own("a", 1), own("a", 2)])
    assert kept["x"]["text"] == own("x", 1)
    assert by_name(tmp_path / "out", True)["a_copy"]["reason"].startswith("exact_duplicate_of:")


def test_a_document_left_empty_goes_even_at_zero_and_stays_out_of_the_index(tmp_path, config):
    docs = {"a": documents()["a"], "b": COOKIES, "c": documents()["c"]}
    source = extracted(tmp_path, config, docs)
    config.dedup.lines = LinesConfig(mode="keep_first", min_document_chars=0)
    index = tmp_path / "index"
    run_dedup(source, tmp_path / "out", config, index, show_progress=False)
    assert by_name(tmp_path / "out", True)["b"]["reason"] == "duplicate_lines:too_short"
    kept = by_name(tmp_path / "out")
    assert sorted(kept) == ["a", "c"]
    assert json.loads((index / INDEX_MANIFEST).read_text())["documents"] == len(kept)


def test_the_index_carries_units_to_later_batches(tmp_path, config):
    index = tmp_path / "index"
    config.dedup.lines = LinesConfig(mode="keep_first", min_document_chars=30)
    first = extracted(tmp_path, config, documents(), "ex1")
    run_dedup(first, tmp_path / "out1", config, index, show_progress=False)
    later = {"f": "\n".join([own("f", 1), SHARE, COOKIES, own("f", 2)])}
    second = extracted(tmp_path, config, later, "ex2")
    summary = run_dedup(second, tmp_path / "out2", config, index, show_progress=False)
    assert by_name(tmp_path / "out2")["f"]["text"] == "\n".join([own("f", 1), own("f", 2)])
    assert summary.stats["dedup"]["lines"]["index_units"] > 0
    parts = json.loads((index / INDEX_MANIFEST).read_text())["parts"]
    assert all(part["lines"]["rows"] > 0 for part in parts)

    config.dedup.lines = LinesConfig(mode="off")  # other settings than the index was built with
    with pytest.raises(StageError, match=r"other settings \(lines\)"):
        run_dedup(second, tmp_path / "out3", config, index, show_progress=False)


def test_a_damaged_lines_part_of_the_index_is_refused(tmp_path, config):
    index = tmp_path / "index"
    config.dedup.lines = LinesConfig(mode="keep_first", min_document_chars=30)
    first = extracted(tmp_path, config, documents(), "ex1")
    run_dedup(first, tmp_path / "out1", config, index, show_progress=False)
    part = next(index.glob("lines-*.parquet"))
    part.write_bytes(part.read_bytes()[:-10])
    second = extracted(tmp_path, config, {"f": own("f", 1) + "\n" + COOKIES}, "ex2")
    with pytest.raises(StageError, match="damaged"):
        run_dedup(second, tmp_path / "out2", config, index, show_progress=False)


def test_killed_line_dedup_rerun_gives_identical_output(tmp_path, config):
    docs = {}
    for i in range(40):
        lines = [own(f"n{i}", 1), COOKIES if i % 2 else SHARE, own(f"n{i}", 2), own(f"n{i}", 3)]
        docs[f"n{i:02d}"] = "\n".join(lines)
    source = extracted(tmp_path, config, docs)
    args = ["dedup", "-i", str(source), "--workers", "1", "-q"]
    args += ["--set", "dedup.lines.mode=keep_first"]
    out = assert_kill_and_rerun_is_identical(args, tmp_path)
    texts = [row["text"] for row in read_table(out).to_pylist()]
    assert sum(COOKIES in t for t in texts) == 1 and sum(SHARE in t for t in texts) == 1


def test_split_and_remove_keep_the_separators():
    text = "one\ntwo\n\nthree\n"
    units, separators = split_units(text, "line")
    assert "".join(u + s for u, s in zip(units, separators, strict=True)) == text
    assert remove_units(text, [1], "line") == ("one\n\nthree\n", 3)
    assert remove_units(text, [0], "line") == ("two\n\nthree\n", 3)
    assert remove_units("a\nb\nc", [2], "line") == ("a\nb", 1)
    paragraphs = "p one\nstill one\n\n \np two\n\n\np three"
    assert split_units(paragraphs, "paragraph")[0] == ["p one\nstill one", "p two", "p three"]
    assert remove_units(paragraphs, [1], "paragraph")[0] == "p one\nstill one\n\n \np three"


def test_indentation_and_crlf_survive_removal():
    """The next unit's indentation is its own, not the separator's; CRLF is one separator."""
    code = "P1 text here\n\n    indented P2 code\n\n\tP3 tabbed"
    assert remove_units(code, [1], "paragraph")[0] == "P1 text here\n\n\tP3 tabbed"
    assert remove_units(code, [0], "paragraph")[0] == "    indented P2 code\n\n\tP3 tabbed"
    assert remove_units("a\r\nb\r\nc", [2], "line")[0] == "a\r\nb"
    assert remove_units("a\r\nb\r\nc\r\n", [1], "line")[0] == "a\r\nc\r\n"


def test_normalisation_and_the_minimum_length():
    config = LinesConfig(mode="keep_first", min_chars=10)
    assert unit_hash("Share   THIS article", config) == unit_hash("share this article", config)
    assert unit_hash("Menu", config) == 0
    assert unit_hash("  Menu  plus  ", config) == 0  # "menu plus": 9 characters
    assert unit_hash("  Menu  plus 1", config) != 0


def test_removed_mask_by_hand():
    # documents 0..3; hash 7 in 0 and 2, hash 8 twice in 1 only, hash 9 in the index.
    documents = np.array([0, 0, 1, 1, 2, 2, 3], dtype=np.int32)
    hashes = np.array([7, 5, 8, 8, 7, 6, 9], dtype=np.uint64)
    seen = np.array([9], dtype=np.uint64)
    keep_first, new = removed_mask(documents, hashes, seen, "keep_first")
    assert keep_first.tolist() == [False, False, False, False, True, False, True]
    assert new.tolist() == [5, 6, 7, 8]  # distinct, sorted, not in the index
    repeated, _ = removed_mask(documents, hashes, seen, "remove_repeated")
    assert repeated.tolist() == [True, False, False, False, True, False, True]
    empty, none = removed_mask(np.empty(0, np.int32), np.empty(0, np.uint64), seen, "keep_first")
    assert not len(empty) and not len(none)
