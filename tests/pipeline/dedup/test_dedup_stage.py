"""`llm-data dedup` end to end: planted duplicates go, boilerplate-sharing pages stay, the index
carries decisions across runs, and the output does not depend on workers or on being killed."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.dedup import stage
from llm_pretrain.pipeline.dedup.index import INDEX_MANIFEST, DedupIndex
from llm_pretrain.pipeline.lock import Locked
from llm_pretrain.pipeline.runner import StageError
from llm_pretrain.stages import run_dedup, run_extract
from tests.pipeline.dedup.corpus import (
    original,
    paragraph_inserted,
    whitespace_changed,
    words_changed,
    write_jsonl,
)
from tests.pipeline.helpers import assert_kill_and_rerun_is_identical, shard_checksums

PLANTED = {
    "copy0": ("doc00", "exact_duplicate_of"),
    "spaces1": ("doc01", "exact_duplicate_of"),
    "para2": ("doc02", "near_duplicate_of"),
    "words3": ("doc03", "near_duplicate_of"),
}


def first_batch() -> dict[str, str]:
    documents = {f"doc{i:02d}": original(i) for i in range(20)}
    documents["copy0"] = documents["doc00"]
    documents["spaces1"] = whitespace_changed(documents["doc01"])
    documents["para2"] = paragraph_inserted(documents["doc02"], seed=2)
    documents["words3"] = words_changed(documents["doc03"], 3, seed=3)
    return documents


def extracted(tmp_path, config, documents: dict[str, str], name: str = "ex"):
    write_jsonl(tmp_path / f"{name}-in", documents, per_file=3)
    config.extract.task_max_files = 1  # one shard per input file
    run_extract([str(tmp_path / f"{name}-in")], tmp_path / name, config, show_progress=False)
    return tmp_path / name


def names(folder, rejected: bool = False) -> dict[str, dict]:
    """Rows of a dataset by document name (the last part of the URL)."""
    return {row["url"].rsplit("/", 1)[1]: row for row in read_table(folder, rejected).to_pylist()}


def reasons(out, source) -> dict[str, tuple[str, str]]:
    """name -> (name of the document it duplicates, kind) for every rejected document."""
    name_of = {row["id"]: name for name, row in names(source).items()}
    result = {}
    for name, row in names(out, rejected=True).items():
        kind, other = row["reason"].split(":", 1)
        result[name] = (name_of[other], kind)
    return result


def test_planted_duplicates_go_and_the_rest_stays(tmp_path, config):
    source = extracted(tmp_path, config, first_batch())
    summary = run_dedup(source, tmp_path / "out", config, show_progress=False)
    assert reasons(tmp_path / "out", source) == PLANTED
    kept = names(tmp_path / "out")
    assert sorted(kept) == [f"doc{i:02d}" for i in range(20)]  # shared footer or not
    assert kept["doc00"]["duplicate_count"] == 1 and kept["doc05"]["duplicate_count"] == 0
    rejected = names(tmp_path / "out", rejected=True)
    assert rejected["copy0"]["similarity"] == 1.0
    assert 0.8 <= rejected["words3"]["similarity"] < 1.0
    stats = summary.stats["dedup"]
    assert stats["exact_duplicates"] == 2 and stats["near_duplicates"] == 2
    assert stats["cluster_sizes"] == {"2": 4}
    assert stats["exactly_compared_pairs"] >= 1  # the edited copies are near the threshold
    assert summary.stats["rejected"] == {"exact_duplicate_of": 2, "near_duplicate_of": 2}
    assert summary.manifest["counts"] == {"documents": 20, "rejected": 4}
    again = run_dedup(source, tmp_path / "out", config, show_progress=False)
    assert again.up_to_date


def test_second_batch_is_deduplicated_against_the_index(tmp_path, config):
    index = tmp_path / "index"
    first = extracted(tmp_path, config, first_batch(), "ex1")
    run_dedup(first, tmp_path / "out1", config, index, show_progress=False)
    assert json.loads((index / INDEX_MANIFEST).read_text())["documents"] == 20

    documents = {f"new{i:02d}": original(100 + i) for i in range(6)}
    documents["again5"] = original(5)  # already kept in batch 1
    documents["near6"] = words_changed(original(6), 2, seed=6)
    documents["twin"] = documents["new00"]  # a duplicate within batch 2
    second = extracted(tmp_path, config, documents, "ex2")
    summary = run_dedup(second, tmp_path / "out2", config, index, show_progress=False)

    by_id = {row["id"]: name for name, row in {**names(first), **names(second)}.items()}
    found = {
        name: (by_id[row["reason"].split(":", 1)[1]], row["reason"].split(":", 1)[0])
        for name, row in names(tmp_path / "out2", rejected=True).items()
    }
    assert found == {
        "again5": ("doc05", "exact_duplicate_of"),
        "near6": ("doc06", "near_duplicate_of"),
        "twin": ("new00", "exact_duplicate_of"),
    }
    assert summary.stats["dedup"]["duplicates_of_index"] == 2
    assert summary.stats["dedup"]["index_documents"] == 20
    manifest = json.loads((index / INDEX_MANIFEST).read_text())
    assert manifest["documents"] == 26 and len(manifest["parts"]) == 2

    # Running batch 2 again changes nothing, in the output or in the index.
    rerun = run_dedup(second, tmp_path / "out2", config, index, show_progress=False)
    assert rerun.up_to_date
    assert json.loads((index / INDEX_MANIFEST).read_text()) == manifest


def broken_apply(*args, **kwargs):
    raise RuntimeError("disk on fire")


def test_a_retry_or_an_overwrite_decides_as_the_first_attempt(tmp_path, config, monkeypatch):
    """The batch's index part exists before the output is committed, and stays listed after:
    neither may make the batch a duplicate of itself."""
    index, out = tmp_path / "index", tmp_path / "out"
    source = extracted(tmp_path, config, first_batch())

    monkeypatch.setattr(stage, "apply_task", broken_apply)
    with pytest.raises(StageError, match="disk on fire"):
        run_dedup(source, out, config, index, show_progress=False)
    assert list(index.glob("part-*.parquet")) and not (index / INDEX_MANIFEST).exists()
    monkeypatch.undo()

    retried = run_dedup(source, out, config, index, show_progress=False)
    assert retried.manifest["counts"] == {"documents": 20, "rejected": 4}
    manifest = json.loads((index / INDEX_MANIFEST).read_text())
    assert manifest["documents"] == 20
    again = run_dedup(source, out, config, index, show_progress=False, overwrite=True)
    assert again.manifest["counts"] == {"documents": 20, "rejected": 4}
    assert json.loads((index / INDEX_MANIFEST).read_text()) == manifest


def test_output_does_not_depend_on_workers(tmp_path, config):
    source = extracted(tmp_path, config, first_batch())
    config.executor.workers = 1
    run_dedup(source, tmp_path / "one", config, show_progress=False)
    config.executor.workers = 2
    run_dedup(source, tmp_path / "two", config, show_progress=False)
    assert shard_checksums(tmp_path / "one") == shard_checksums(tmp_path / "two")


@pytest.mark.parametrize(
    ("partitions", "markers"),
    [("0", "_progress/task-*.json"), ("2", "_progress/partitions/*/task-*.json")],
)
def test_killed_dedup_rerun_gives_identical_output(tmp_path, config, partitions, markers):
    """Killed in the apply phase, or (global step in partitions) in its spread, exact and near
    tasks."""
    documents = {f"doc{i:03d}": original(i, paragraphs=2) for i in range(60)}
    documents.update({f"copy{i:03d}": documents[f"doc{i:03d}"] for i in range(0, 60, 7)})
    source = extracted(tmp_path, config, documents)
    args = ["dedup", "-i", str(source), "--workers", "1", "-q", "--partitions", partitions]
    out = assert_kill_and_rerun_is_identical(args, tmp_path, markers)
    assert Counter(r["reason"].split(":")[0] for r in read_table(out, True).to_pylist()) == {
        "exact_duplicate_of": 9
    }


def test_a_locked_index_or_other_settings_are_refused(tmp_path, config):
    source = extracted(tmp_path, config, first_batch())
    index = tmp_path / "index"
    with (
        DedupIndex(index, config.dedup).locked(),
        pytest.raises(Locked, match="in use by a dedup run"),
    ):
        run_dedup(source, tmp_path / "out", config, index, show_progress=False)
    run_dedup(source, tmp_path / "out", config, index, show_progress=False)
    config.dedup.minhash.ngram = 3
    with pytest.raises(StageError, match="other settings \\(ngram\\)"):
        run_dedup(source, tmp_path / "out3", config, index, show_progress=False)


def test_cli_reports_duplicates(tmp_path, config):
    source = extracted(tmp_path, config, first_batch())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        data,
        ["dedup", "-i", str(source), "-o", str(out), "--index", str(tmp_path / "ix"), "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "near duplicates" in result.output and "exact duplicates" in result.output
    result = CliRunner().invoke(
        data, ["dedup", "-i", str(source), "-o", str(out), "--minhash-ngram", "0"]
    )
    assert result.exit_code == 2 and "--minhash-ngram: " in result.output  # usage error


def test_exact_dedup_alone(tmp_path, config):
    source = extracted(tmp_path, config, first_batch())
    config.dedup.minhash.enabled = False
    summary = run_dedup(source, tmp_path / "out", config, show_progress=False)
    assert reasons(tmp_path / "out", source) == {
        name: found for name, found in PLANTED.items() if found[1] == "exact_duplicate_of"
    }
    assert "candidate_pairs" not in summary.stats["dedup"]


TIMINGS = ("peak_rss_mb", "signatures_docs_per_s")


def test_the_global_step_in_partitions_gives_the_same_datasets(tmp_path, config):
    """Two batches against an index, the global step in one process and in 3 partitions (as
    on Ray): the same outputs, rejections with reasons, index parts and counts."""
    second = {f"new{i:02d}": original(100 + i) for i in range(6)}
    second.update(again5=original(5), near6=words_changed(original(6), 2, seed=6))
    inputs = [extracted(tmp_path, config, first_batch(), "ex1")]
    inputs.append(extracted(tmp_path, config, second, "ex2"))
    results = {}
    for partitions in (0, 3):
        config.dedup.partitions = partitions
        index = tmp_path / f"index{partitions}"
        summaries = [
            run_dedup(source, tmp_path / f"out{partitions}-{n}", config, index, False)
            for n, source in enumerate(inputs)
        ]
        results[partitions] = (
            [shard_checksums(tmp_path / f"out{partitions}-{n}") for n in range(2)],
            [pq.read_table(path) for path in sorted(index.glob("part-*.parquet"))],
            [
                {
                    k: v
                    for k, v in s.stats["dedup"].items()
                    if k not in TIMINGS and "seconds" not in k
                }
                for s in summaries
            ],
        )
    (checksums, parts, stats), (checksums3, parts3, stats3) = results[0], results[3]
    assert checksums == checksums3 and parts == parts3
    assert stats3[0]["partitions"] == 3 and stats3[0]["exactly_compared_pairs"] >= 1
    for one, three in zip(stats, stats3, strict=True):
        assert one == {k: v for k, v in three.items() if k != "partitions"}
    assert stats3[1]["duplicates_of_index"] == 2


def test_signature_groups_do_not_change_the_output(tmp_path, config, monkeypatch):
    """Small shards are grouped into signature tasks of GROUP_ROWS documents; how they are
    grouped changes nothing in the datasets or the index."""
    source = extracted(tmp_path, config, first_batch())
    config.dedup.lines.mode = "keep_first"
    run_dedup(source, tmp_path / "one", config, tmp_path / "index1", show_progress=False)
    monkeypatch.setattr(stage, "GROUP_ROWS", 5)  # 8 shards of 3 documents: groups of 2
    run_dedup(source, tmp_path / "many", config, tmp_path / "index2", show_progress=False)
    assert shard_checksums(tmp_path / "one") == shard_checksums(tmp_path / "many")
    for name in ("part-*.parquet", "lines-*.parquet"):  # the same rows (row groups may differ)
        tables = [pq.read_table(next((tmp_path / i).glob(name))) for i in ("index1", "index2")]
        assert tables[0].equals(tables[1])


def test_signature_groups_are_consecutive_shards_of_enough_rows(monkeypatch):
    from llm_pretrain.pipeline.runner import ShardTask

    monkeypatch.setattr(stage, "GROUP_ROWS", 10)
    tasks = [ShardTask(i, f"s{i}", 1, rows=r) for i, r in enumerate([4, 4, 4, 12, 0, 3, None, 2])]
    groups = stage.signature_groups(tasks)
    assert [[t.index for t in g.tasks] for g in groups] == [[0, 1, 2], [3], [4, 5], [6], [7]]
    assert [g.index for g in groups] == [0, 1, 2, 3, 4] and groups[0].shard == "s0 .. s2"


@pytest.mark.parametrize("partitions", [0, 2])
def test_an_unfinished_run_of_the_version_before_groups_is_finished_alike(
    tmp_path, config, partitions
):
    """State an earlier version left under `_progress/` (a signature file and marker per shard,
    `decisions/`, `global/`, `clusters.json`) is not read: the run finishes as a fresh one
    would."""
    config.dedup.partitions = partitions
    source = extracted(tmp_path, config, first_batch())
    run_dedup(source, tmp_path / "clean", config, show_progress=False)
    out = tmp_path / "out"
    run_dedup(source, out, config, show_progress=False)
    manifest = json.loads((out / "_manifest.json").read_text())
    for shard in out.glob("part-*.parquet"):
        shard.unlink()
    (out / "_manifest.json").unlink()  # killed before its commit, with old state left behind
    progress = out / "_progress"
    (progress / "signatures").mkdir(parents=True)
    (progress / "signatures" / "task-0.json").write_text(
        '{"index": 0, "rows": 3, "cpu_seconds": 0}'
    )
    (progress / "signatures" / "part-00000.parquet").write_bytes(b"old")
    (progress / "decisions").mkdir()
    (progress / "decisions" / "part-00000.parquet").write_bytes(b"old")
    (progress / "clusters.json").write_text("{}")
    (progress / "global" / "spread").mkdir(parents=True)  # the partitioned step's, per shard
    (progress / "global" / "spread" / "task-00000.json").write_text('{"index": 0}')
    (progress / "global" / "spread" / "part-00000.arrow").write_bytes(b"old")
    (progress / "plan.json").write_text(
        json.dumps({"fingerprint": manifest["fingerprint"], "stage": "dedup"})
    )
    run_dedup(source, out, config, show_progress=False)
    assert shard_checksums(out) == shard_checksums(tmp_path / "clean")
