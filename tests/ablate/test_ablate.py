"""`llm-train ablate` end to end on two tiny variants and a tiny model: results.json as the
README documents it, deterministic, resumed after kill -9 with the same numbers; eval sets that
overlap a variant, dry-run variants with rules lifted, and outputs it must not write."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.ablate.select import failing_rules
from llm_pretrain.cli_train import train
from llm_pretrain.config import load_config
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_extract, run_filter
from tests.ablate.helpers import bpb_figures

RECIPE = """\
model: {dim: 32, n_layers: 2, n_heads: 4, max_seq_len: 32, tie_embeddings: true}
max_steps: 12
batch: {global_tokens: 512, micro_batch_rows: 8}
optimizer: {lr: 1.0e-2}
schedule: {warmup_steps: 2}
checkpoint: {every_steps: 4, keep_last: 2}
eval: {every_steps: 6, max_rows: 16}
log: {every_steps: 4}
"""
SPAM = "buy cheap pills online best price buy now "


def _dataset(root: Path, name: str, texts: list[str]) -> Path:
    raw = root / f"{name}-raw"
    raw.mkdir()
    rows = [{"text": text, "url": f"https://{name}.example/{i}"} for i, text in enumerate(texts)]
    (raw / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = load_config(None, {"executor.workers": 1, "extract.min_chars": 20})
    run_extract([str(raw)], root / name, config, show_progress=False)
    return root / name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """clean: made-up English; noisy: the same plus spam; heldout: other English, as .txt."""
    root = tmp_path_factory.mktemp("ablate")
    rng = random.Random(3)
    clean = [paragraph(rng, rng.randint(3, 8)) for _ in range(80)]
    spam = [SPAM * rng.randint(5, 30) for _ in range(40)]
    heldout = root / "heldout"
    heldout.mkdir()
    for i in range(6):
        (heldout / f"doc-{i}.txt").write_text(paragraph(rng, 6), encoding="utf-8")
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return {
        "clean": _dataset(root, "clean", clean),
        "noisy": _dataset(root, "noisy", clean + spam),
        "heldout": heldout,
        "recipe": recipe,
        "root": root,
    }


def _args(corpus: dict[str, Path], out: Path, *more: str) -> list[str]:
    return [
        "ablate", "-q", "--json", "--config", str(corpus["recipe"]),
        "--variant", f"noisy={corpus['noisy']}", "--variant", f"clean={corpus['clean']}",
        "--eval", f"heldout={corpus['heldout']}", "--out", str(out),
        "--vocab-size", "300", "--val-fraction", "0.1", *more,
    ]  # fmt: skip


def _ablate(*args: str) -> dict:
    result = CliRunner().invoke(train, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def finished(corpus, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("finished") / "ablation"
    results = _ablate(*_args(corpus, out, "--seeds", "2", "--tokens", "6K"))
    return {"out": out, "results": results}


def test_results_json_holds_what_the_readme_documents(finished):
    results, out = finished["results"], finished["out"]
    assert json.loads((out / "results.json").read_text()) == results
    assert results["tokens_per_run"] == 6144  # 6K in whole steps of 512 tokens: 12 steps
    assert results["steps"] == 12 and results["seeds"] == [0, 1]
    assert set(results["variants"]) == {"noisy", "clean"}
    for name, variant in results["variants"].items():
        assert variant["tokens"] > 0
        assert variant["epochs"] == pytest.approx(6144 / variant["tokens"])
        assert set(variant["eval"]) == {"heldout"}
        assert set(variant["val"]) == {"noisy", "clean"}
        for cell in [*variant["eval"].values(), *variant["val"].values()]:
            assert len(cell["bpb_seeds"]) == 2 and cell["bpb"] > 0
            assert cell["bpb"] == pytest.approx(sum(cell["bpb_seeds"]) / 2)
            assert cell["bpb_std"] >= 0 and cell["loss"] > 0
        for seed, run in enumerate(variant["runs"]):
            assert Path(run) == out / "runs" / name / f"seed-{seed}"
            summary = json.loads((Path(run) / "summary.json").read_text())
            assert summary["steps"] == 12 and summary["tokens"] == 6144
        assert variant["curves"][0]["points"][-1]["tokens"] == 6144
    # the noisy variant holds the clean one's documents and the spam: more tokens, fewer epochs
    assert results["variants"]["noisy"]["tokens"] > results["variants"]["clean"]["tokens"]
    assert results["comparison"]["eval"]["heldout"]["best"] in ("noisy", "clean")
    png = (out / "ablation.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"llm-pretrain ablate" in png


def test_the_same_ablation_again_gives_the_samebpb_figures(corpus, finished, tmp_path):
    again = _ablate(*_args(corpus, tmp_path / "again", "--seeds", "2", "--tokens", "6K"))
    assert bpb_figures(again) == bpb_figures(finished["results"])


def test_a_finished_ablation_rerun_trains_nothing(corpus, finished):
    run = finished["out"] / "runs" / "clean" / "seed-0"
    before = (run / "metrics.jsonl").stat().st_mtime_ns
    again = _ablate(*_args(corpus, finished["out"], "--seeds", "2", "--tokens", "6K"))
    assert bpb_figures(again) == bpb_figures(finished["results"])
    assert (run / "metrics.jsonl").stat().st_mtime_ns == before


def test_killed_ablation_resumes_to_the_samebpb_figures(corpus, finished, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "llm_pretrain.train"]
    command += _args(corpus, out, "--seeds", "2", "--tokens", "6K")
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # kill -9 in the middle of the second variant's first run, after a checkpoint of it
    while not list((out / "runs" / "clean" / "seed-0").glob("checkpoints/step-*")):
        assert process.poll() is None, "the ablation finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "results.json").exists()
    resumed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert bpb_figures(json.loads(resumed.stdout)) == bpb_figures(finished["results"])


def test_an_eval_set_inside_a_variant_is_refused_unless_removed(corpus, tmp_path):
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    texts = pq.read_table(shard_paths(corpus["clean"])[0], columns=["text"])["text"].to_pylist()
    for i, text in enumerate(texts[:3]):
        (heldout / f"leak-{i}.txt").write_text(text, encoding="utf-8")
    args = _args(corpus, tmp_path / "out", "--tokens", "2K")
    args[args.index(f"heldout={corpus['heldout']}")] = f"heldout={heldout}"
    refused = CliRunner().invoke(train, args)
    assert refused.exit_code == 1
    assert "heldout in noisy: 3, heldout in clean: 3" in refused.output
    assert "--remove-overlap" in refused.output
    assert not (tmp_path / "out").exists()
    results = _ablate(*args, "--remove-overlap")
    for name in ("noisy", "clean"):
        assert results["variants"][name]["eval_overlap_removed"] == {"heldout": 3}
        selected = tmp_path / "out" / "selected" / name
        kept = {t for s in shard_paths(selected) for t in pq.read_table(s)["text"].to_pylist()}
        assert not kept & set(texts[:3])
        rejected = sorted((selected / "_rejected").glob("*.parquet"))
        reasons = [r for s in rejected for r in pq.read_table(s)["reason"].to_pylist()]
        assert reasons == ["ablate:eval_overlap"] * 3


def test_dry_run_variant_keeps_what_the_filter_would_with_rules_lifted(corpus, tmp_path):
    dry = tmp_path / "dry"
    config = load_config(None, {"executor.workers": 1, "filter.dry_run": True})
    run_filter(corpus["noisy"], dry, config, show_progress=False)
    table = pq.read_table(shard_paths(dry)[0])
    failing = [reasons for reasons in table["would_reject"].to_pylist() if reasons]
    assert failing, "the spam should fail some rule"
    lifted = failing[0][0].partition(":")[0]  # the step of a rule that fired
    args = _args(corpus, tmp_path / "out", "--tokens", "2K")
    args[args.index(f"noisy={corpus['noisy']}")] = f"all={dry}"
    args[args.index(f"clean={corpus['clean']}")] = f"lifted={dry}:without={lifted}"
    results = _ablate(*args)
    expected = {
        "all": sum(not reasons for reasons in table["would_reject"].to_pylist()),
        "lifted": sum(
            not failing_rules(reasons, (lifted,)) for reasons in table["would_reject"].to_pylist()
        ),
    }
    for name, kept in expected.items():
        manifest = json.loads((tmp_path / "out" / "selected" / name / "_manifest.json").read_text())
        assert manifest["counts"]["documents"] == kept
    assert expected["lifted"] > expected["all"]
    assert results["variants"]["lifted"]["lifted"] == [lifted]


def test_failing_rules_lifts_rules_and_whole_steps():
    reasons = ["c4_quality:too_few_sentences", "gopher_quality:doc_words"]
    assert failing_rules(reasons, ()) == reasons
    assert failing_rules(reasons, ("c4_quality",)) == ["gopher_quality:doc_words"]
    assert failing_rules(reasons, ("gopher_quality:doc_words",)) == [reasons[0]]
    assert failing_rules(reasons, ("c4_quality", "gopher_quality")) == []


def test_without_on_a_dataset_that_is_no_dry_run_is_refused(corpus, tmp_path):
    args = _args(corpus, tmp_path / "out")
    args[args.index(f"clean={corpus['clean']}")] = f"clean={corpus['clean']}:without=c4_quality"
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 1
    assert "is not the output of `llm-data filter --dry-run`" in result.output


@pytest.mark.parametrize("where", ["inside a variant", "holding other files"])
def test_an_output_it_must_not_write_is_refused(corpus, tmp_path, where):
    if where == "inside a variant":
        out = corpus["clean"] / "ablation"
    else:
        out = tmp_path / "mine"
        out.mkdir()
        (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(train, _args(corpus, out))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    if where == "inside a variant":
        assert not out.exists()
    else:
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_another_ablation_into_the_same_folder_is_refused(corpus, finished):
    args = _args(corpus, finished["out"], "--seeds", "3", "--tokens", "6K")
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 1
    assert "holds another ablation (seeds differ)" in result.output


def test_the_corpus_report_shows_the_ablations_of_the_corpus(corpus, finished, tmp_path):
    from llm_pretrain.cli import data

    chain = tmp_path / "corpus"
    shutil.copytree(corpus["clean"], chain / "extracted")
    found = chain / "ablations" / "found"
    found.mkdir(parents=True)
    shutil.copy(finished["out"] / "results.json", found / "results.json")
    result = CliRunner().invoke(
        data, ["report", str(chain), "--ablation", str(finished["out"]), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["ablations"]
    assert [a["path"] for a in shown] == [str(finished["out"]), str(found)]
    best = finished["results"]["comparison"]["eval"]["heldout"]["best"]
    assert shown[0]["best"] == {"heldout": best}
    assert shown[0]["chart"] and shown[1]["chart"] is None  # no ablation.png copied
    page = (chain / "report.html").read_text(encoding="utf-8")
    assert "Ablations: does the filtering help?" in page
    bpb = finished["results"]["variants"][best]["eval"]["heldout"]["bpb"]
    assert f"{bpb:.4f}" in page and page.count("data:image/png") >= 1
    missing = CliRunner().invoke(data, ["report", str(chain), "--ablation", str(tmp_path)])
    assert missing.exit_code == 1 and "holds no results.json" in missing.output


def test_under_torchrun_every_run_uses_both_processes(corpus, finished, tmp_path):
    """Rank 0 prepares the data while rank 1 waits; each of the four runs (and evaluations)
    then runs on both processes in one process group, and gives the one-process numbers."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command = [*launcher, "--nproc-per-node", "2", "-m", "llm_pretrain.train"]
    command += _args(corpus, tmp_path / "out", "--seeds", "2", "--tokens", "6K")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)  # printed once, by rank 0
    state = tmp_path / "out" / "runs" / "clean" / "seed-1" / "checkpoints" / "step-000012"
    assert sorted(path.name for path in (state / "rng").iterdir()) == [
        "rank-00000.pt",
        "rank-00001.pt",
    ]
    alone, together = bpb_figures(finished["results"]), bpb_figures(results)
    assert alone.keys() == together.keys()
    for key, values in alone.items():
        assert together[key] == pytest.approx(values, rel=1e-3)


def test_differences_are_marked_only_beyond_the_two_spreads():
    from llm_pretrain.ablate.results import cell, compare

    def variant(*bpbs: float) -> dict:
        runs = [{"bpb": b, "loss": b, "tokens": 10, "text_bytes": 20} for b in bpbs]
        return {"eval": {"clean": cell(runs)}}

    table = {"a": variant(1.0, 1.2), "b": variant(1.5, 1.6), "c": variant(1.1, 1.4)}
    found = compare(table, "eval", seeds=2)["clean"]
    assert found["best"] == "a"
    b, c = found["differences"]["b"], found["differences"]["c"]
    # b: 1.55 - 1.1 = 0.45 > 0.0707 + 0.1414; c: 0.15 < 0.2121 + 0.1414
    assert b["bpb"] == pytest.approx(0.45) and b["beyond_spread"]
    assert c["bpb"] == pytest.approx(0.15) and not c["beyond_spread"]
    assert c["seed_differences"] == pytest.approx([0.1, 0.2])
    assert not found["differences"]["a"]["beyond_spread"]
    one_seed = compare({"a": variant(1.0), "b": variant(2.0)}, "eval", seeds=1)["clean"]
    assert not one_seed["differences"]["b"]["beyond_spread"]  # one seed: no spread known
