"""`llm-train ablate` against bad and hostile input: every refusal is one line with no traceback
and writes nothing; what the tool wrote, damaged or cut short by kill -9, is resumed or refused
in one line. Tests marked xfail are known defects (the reason says what should happen)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.config import load_config
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.lock import folder_lock
from llm_pretrain.samples import paragraph
from llm_pretrain.stages import run_extract, run_filter
from llm_pretrain.tokenizer.encoding import SplitRule
from llm_pretrain.tokenizer.sampling import text_key, validation_salt
from tests.ablate.helpers import bpb_figures

RECIPE = """\
model: {dim: 32, n_layers: 2, n_heads: 4, max_seq_len: 32, tie_embeddings: true}
max_steps: 12
batch: {global_tokens: 512, micro_batch_rows: 8}
optimizer: {lr: 1.0e-2}
schedule: {warmup_steps: 1}
checkpoint: {every_steps: 2, keep_last: 2}
eval: {every_steps: 2, max_rows: 4}
log: {every_steps: 2}
"""


def _dataset(root: Path, name: str, files: list[list[str]]) -> Path:
    """A document dataset made by extract: a shard per list of texts."""
    raw = root / f"{name}-raw"
    raw.mkdir()
    for number, texts in enumerate(files):
        rows = [{"text": text, "url": f"https://{name}.example/{number}/{i}"} for i, text in
                enumerate(texts)]  # fmt: skip
        lines = "".join(json.dumps(row) + "\n" for row in rows)
        (raw / f"docs-{number}.jsonl").write_text(lines, encoding="utf-8")
    overrides = {"executor.workers": 1, "extract.min_chars": 20, "extract.task_max_files": 1}
    run_extract([str(raw)], root / name, load_config(None, overrides), show_progress=False)
    return root / name


def _texts(dataset: Path) -> list[str]:
    return [t for s in shard_paths(dataset) for t in pq.read_table(s)["text"].to_pylist()]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    rng = random.Random(11)
    clean = _dataset(root, "clean", [[paragraph(rng, rng.randint(3, 6)) for _ in range(50)]])
    multi = _dataset(root, "multi", [[paragraph(rng, 4) for _ in range(12)] for _ in range(4)])
    empty = _dataset(root, "empty", [["too short"]])  # under min_chars: no document
    rule = SplitRule(0.5, validation_salt(0))
    texts = [paragraph(rng, 4) for _ in range(40)]
    held_out = [text for text in texts if rule.is_validation(text_key(text))]
    all_val = _dataset(root, "allval", [held_out[:3]])
    assert all(rule.is_validation(text_key(t)) for t in _texts(all_val))
    dry = root / "dry"
    config = load_config(None, {"executor.workers": 1, "filter.dry_run": True})
    run_filter(clean, dry, config, show_progress=False)
    heldout = root / "heldout"
    heldout.mkdir()
    for i in range(3):
        (heldout / f"doc-{i}.txt").write_text(paragraph(rng, 5), encoding="utf-8")
    leaky = root / "leaky"  # held-out text, and a document of each shard of multi
    shutil.copytree(heldout, leaky)
    for shard in shard_paths(multi):
        text = pq.read_table(shard)["text"].to_pylist()[0]
        (leaky / f"leak-{shard.stem}.txt").write_text(text, encoding="utf-8")
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    names = {"clean": clean, "multi": multi, "empty": empty, "allval": all_val, "dry": dry}
    return {**names, "heldout": heldout, "leaky": leaky, "recipe": recipe, "root": root}


def _base(data: dict[str, Path], out: Path, *more: str) -> list[str]:
    return [
        "ablate", "-q", "--json", "--config", str(data["recipe"]), "--out", str(out),
        "--vocab-size", "300", "--val-fraction", "0.1", "--tokens", "1K", "--val-max-rows", "2",
        *more,
    ]  # fmt: skip


def _finished_args(data: dict[str, Path], out: Path) -> list[str]:
    """m (4 shards) and clean, evaluated on a set holding one document of each shard of m."""
    return _base(
        data, out, "--variant", f"m={data['multi']}", "--variant", f"clean={data['clean']}",
        "--eval", f"e={data['leaky']}", "--remove-overlap",
    )  # fmt: skip


def _invoke(args: list[str]):
    return CliRunner().invoke(train, args)


def _refused(result, code: int | None = None) -> str:
    """A refusal: a non-zero exit (`code` when given) and one line, no traceback, no bug."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.output


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("finished") / "ablation"
    result = _invoke(_finished_args(data, out))
    assert result.exit_code == 0, result.output
    return {"out": out, "results": json.loads(result.output)}


@pytest.fixture
def copied(finished, tmp_path) -> Path:
    """A copy of the finished ablation to damage."""
    out = tmp_path / "copy"
    shutil.copytree(finished["out"], out)
    return out


# ---- variants ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where, message",
    [
        ("missing", "does not exist"),
        ("file", "is not a finished dataset"),
        ("raw folder", "is not a finished dataset"),
        ("unfinished", "is not a finished dataset"),
        ("tokens", "holds tokenize output, not documents"),
    ],
)
def test_a_variant_that_is_no_document_dataset_is_refused(data, finished, tmp_path, where, message):
    path = {
        "missing": tmp_path / "nothing",
        "file": data["recipe"],
        "raw folder": data["root"] / "clean-raw",
        "unfinished": tmp_path / "unfinished",
        "tokens": finished["out"] / "tokens" / "clean",
    }[where]
    if where == "unfinished":
        shutil.copytree(data["clean"], path)
        (path / "_manifest.json").unlink()
    out = tmp_path / "out"
    result = _invoke(_base(data, out, "--variant", f"a={path}"))
    assert message in _refused(result)
    assert not out.exists()


@pytest.mark.parametrize(
    "variant",
    [
        "a/b=CLEAN", "..=CLEAN", "../x=CLEAN", ".=CLEAN", "_a=CLEAN", "=CLEAN", "a", "a=",
        "a=CLEAN:without=", "a=CLEAN:without=,", "a=:without=c4_quality", "x" * 65 + "=CLEAN",
    ],
)  # fmt: skip
def test_a_malformed_variant_is_refused(data, tmp_path, variant):
    out = tmp_path / "out"
    result = _invoke(_base(data, out, "--variant", variant.replace("CLEAN", str(data["clean"]))))
    assert "--variant" in _refused(result)
    assert not out.exists()


def test_two_variants_or_evals_of_one_name_are_refused(data, tmp_path):
    out = tmp_path / "out"
    twice = ["--variant", f"a={data['clean']}", "--variant", f"a={data['multi']}"]
    assert "two --variants are named 'a'" in _refused(_invoke(_base(data, out, *twice)))
    evals = ["--eval", f"e={data['heldout']}"] * 2
    result = _invoke(_base(data, out, "--variant", f"a={data['clean']}", *evals))
    assert "two --evals are named 'e'" in _refused(result)
    assert not out.exists()


def test_without_on_a_dataset_that_is_no_dry_run_is_refused(data, tmp_path):
    variant = f"a={data['clean']}:without=c4_quality"
    result = _invoke(_base(data, tmp_path / "out", "--variant", variant))
    assert "is not the output of `llm-data filter --dry-run`" in _refused(result)


def test_lifting_a_rule_the_dry_run_does_not_know_is_refused(data, tmp_path):
    out = tmp_path / "out"
    variant = f"typo={data['dry']}:without=c4_qualty"
    result = _invoke(_base(data, out, "--variant", f"all={data['dry']}", "--variant", variant))
    assert "c4_qualty" in _refused(result)
    assert not out.exists()


@pytest.mark.parametrize("which", ["empty", "allval"])
def test_a_variant_without_training_documents_is_refused_up_front(data, tmp_path, which):
    out = tmp_path / "out"
    args = ["--variant", f"{which}={data[which]}", "--variant", f"clean={data['clean']}"]
    result = _invoke(_base(data, out, *args, "--val-fraction", "0.5"))
    assert which in _refused(result)
    assert not out.exists()


# ---- eval sets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, message",
    [
        ("empty folder", "holds no text to evaluate on"),
        ("blank text", "holds no text to evaluate on"),
        ("binary .txt", "is not UTF-8 text"),
        ("other file", "not a text to evaluate on"),
        ("jsonl without text", "has no text field"),
        ("jsonl not json", "is not a JSON object"),
        ("empty dataset", "holds no text to evaluate on"),
    ],
)
def test_an_eval_set_without_text_is_refused(data, tmp_path, kind, message):
    path = tmp_path / "eval"
    path.mkdir()
    if kind == "blank text":
        (path / "a.txt").write_text("  \n", encoding="utf-8")
    elif kind == "binary .txt":
        (path / "a.txt").write_bytes(bytes(range(128, 256)))
    elif kind == "other file":
        path = path / "weights.bin"
        path.write_bytes(b"\x00\x01")
    elif kind == "jsonl without text":
        (path / "a.jsonl").write_text('{"url": "x"}\n', encoding="utf-8")
    elif kind == "jsonl not json":
        (path / "a.jsonl").write_text("text: hello\n", encoding="utf-8")
    elif kind == "empty dataset":
        path = data["empty"]
    out = tmp_path / "out"
    result = _invoke(_base(data, out, "--variant", f"a={data['clean']}", "--eval", f"e={path}"))
    assert message in _refused(result)
    assert not out.exists()


def test_an_eval_set_holding_a_variants_documents_is_refused(data, tmp_path):
    out = tmp_path / "out"
    args = ["--variant", f"m={data['multi']}", "--eval", f"e={data['leaky']}"]
    assert "e in m: 4" in _refused(_invoke(_base(data, out, *args)))
    assert not out.exists()


def test_an_eval_set_that_does_not_exist_is_said_so(data, tmp_path):
    args = ["--variant", f"a={data['clean']}", "--eval", f"e={tmp_path / 'nothing'}"]
    assert "does not exist" in _refused(_invoke(_base(data, tmp_path / "out", *args)))


def test_an_eval_set_that_is_token_data_is_refused(data, finished, tmp_path):
    tokens = finished["out"] / "tokens" / "clean"
    args = ["--variant", f"a={data['clean']}", "--eval", f"e={tokens}"]
    _refused(_invoke(_base(data, tmp_path / "out", *args)))


def test_an_eval_dataset_with_a_damaged_manifest_is_refused(data, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(data["clean"], damaged)
    (damaged / "_manifest.json").write_text('{"shards": 3}', encoding="utf-8")
    args = ["--variant", f"a={data['multi']}", "--eval", f"e={damaged}"]
    _refused(_invoke(_base(data, tmp_path / "out", *args)))


# ---- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tokens", ["abc", "0", "-5", "0.5", "1e400", "nan", "inf", "20MB", "", " ", "K", "1..5M"]
)
def test_a_token_count_that_is_no_count_is_refused(data, tmp_path, tokens):
    out = tmp_path / "out"
    result = _invoke(_base(data, out, "--variant", f"a={data['clean']}", "--tokens", tokens))
    assert "--tokens" in _refused(result)
    assert not out.exists()


def test_a_malformed_option_value_is_a_usage_error(data, tmp_path):
    args = _base(data, tmp_path / "out", "--variant", f"a={data['clean']}", "--tokens", "abc")
    _refused(_invoke(args), code=2)


@pytest.mark.parametrize(
    "option",
    [["--seeds", "0"], ["--vocab-size", "10"], ["--val-fraction", "1"], ["--val-fraction", "nan"],
     ["--seq-len", "0"], ["--val-max-rows", "0"], ["--config", "/nonexistent.yaml"],
     ["model.dim=abc"], ["no_such_key=3"]],
)  # fmt: skip
def test_a_bad_option_or_recipe_override_is_a_usage_error(data, tmp_path, option):
    out = tmp_path / "out"
    _refused(_invoke(_base(data, out, "--variant", f"a={data['clean']}", *option)), code=2)
    assert not out.exists()


@pytest.mark.parametrize("misfit", [["--seq-len", "64"], ["--seq-len", "24"]])
def test_a_recipe_that_cannot_train_these_rows_is_refused_up_front(data, tmp_path, misfit):
    out = tmp_path / "out"
    _refused(_invoke(_base(data, out, "--variant", f"a={data['clean']}", *misfit)))
    assert not out.exists()


# ---- tokenizer ---------------------------------------------------------------------------


def test_a_tokenizer_folder_without_tokenizer_json_is_refused(data, tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    out = tmp_path / "out"
    args = ["--variant", f"a={data['clean']}", "--tokenizer", str(folder)]
    assert "tokenizer.json" in _refused(_invoke(_base(data, out, *args)))
    assert not out.exists()


def test_a_garbage_tokenizer_is_refused_before_anything_is_written(data, tmp_path):
    garbage = tmp_path / "tok" / "tokenizer.json"
    garbage.parent.mkdir()
    garbage.write_text("not a tokenizer", encoding="utf-8")
    out = tmp_path / "out"
    args = ["--variant", f"a={data['clean']}", "--tokenizer", str(garbage.parent)]
    assert "is not a tokenizer.json" in _refused(_invoke(_base(data, out, *args)))
    assert not out.exists()


# ---- the output folder -------------------------------------------------------------------


@pytest.mark.parametrize(
    "where, message",
    [
        ("a variant", "is the input"),
        ("the parent of a variant", "contains the input"),
        ("inside an eval set", "lies inside the input"),
        ("the tokenizer", "is the input"),
        ("a dangling link", "which does not exist"),
        ("a link to a variant", "is the input"),
        ("holding a hidden file", "did not write"),
        ("holding a dataset", "did not write"),
    ],
)
def test_an_output_it_must_not_write_is_refused(data, finished, tmp_path, where, message):
    tokenizer = finished["out"] / "tokenizer"
    out = {
        "a variant": data["clean"],
        "the parent of a variant": data["root"],
        "inside an eval set": data["heldout"] / "ablation",
        "the tokenizer": tokenizer,
        "a dangling link": tmp_path / "link",
        "a link to a variant": tmp_path / "link",
        "holding a hidden file": tmp_path / "mine",
        "holding a dataset": data["multi"],
    }[where]
    if where == "a dangling link":
        out.symlink_to(tmp_path / "nowhere")
    elif where == "a link to a variant":
        out.symlink_to(data["clean"])
    elif where == "holding a hidden file":
        out.mkdir()
        (out / ".notes").write_text("mine", encoding="utf-8")
    before = sorted(os.listdir(out)) if out.is_dir() else None
    args = _base(data, out, "--variant", f"a={data['clean']}", "--eval", f"e={data['heldout']}")
    assert message in _refused(_invoke([*args, "--tokenizer", str(tokenizer)]))
    assert (sorted(os.listdir(out)) if out.is_dir() else None) == before
    assert not (tmp_path / "nowhere").exists()


def test_an_output_that_is_a_file_is_refused(data, tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("mine", encoding="utf-8")
    _refused(_invoke(_base(data, mine, "--variant", f"a={data['clean']}")), code=2)
    assert mine.read_text(encoding="utf-8") == "mine"


def test_the_current_folder_as_output_is_refused(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "current folder" in _refused(_invoke(_base(data, Path("."), "--variant", "a=" +
                                                      str(data["clean"]))))  # fmt: skip
    assert os.listdir(tmp_path) == []


def test_an_output_being_written_is_refused_as_locked(data, tmp_path):
    out = tmp_path / "out"
    with folder_lock(out / ".lock", "being written by llm-train ablate"):
        result = _invoke(_base(data, out, "--variant", f"a={data['clean']}"))
    assert "try again later" in _refused(result, code=75)
    assert os.listdir(out) == [".lock"]


@pytest.mark.parametrize(
    "change, differ",
    [
        (["--seeds", "2"], "seeds"),
        (["--val-max-rows", "3"], "val_max_rows"),
        (["--tokens", "2K"], "tokens_per_run"),
        (["--vocab-size", "301"], "vocab_size"),
        (["optimizer.lr=0.02"], "recipe"),
    ],
)
def test_another_ablation_into_a_finished_one_is_refused(data, finished, change, differ):
    args = _finished_args(data, finished["out"])
    plan = (finished["out"] / "ablation.json").read_bytes()
    message = _refused(_invoke([*args, *change]))
    assert "holds another ablation (" in message and differ in message.partition("(")[2]
    assert (finished["out"] / "ablation.json").read_bytes() == plan


def test_fewer_variants_into_a_finished_one_is_refused(data, finished):
    args = _base(data, finished["out"], "--variant", f"clean={data['clean']}",
                 "--eval", f"e={data['leaky']}", "--remove-overlap")  # fmt: skip
    assert "(variants differ)" in _refused(_invoke(args))


# ---- damaged files of its own, kill -9 ---------------------------------------------------


def test_a_cut_short_plan_is_refused(data, copied):
    (copied / "ablation.json").write_text('{"variants": {', encoding="utf-8")
    assert "is not readable JSON" in _refused(_invoke(_finished_args(data, copied)))


def test_a_plan_that_is_no_object_is_refused(data, copied):
    (copied / "ablation.json").write_text("[1, 2]", encoding="utf-8")
    _refused(_invoke(_finished_args(data, copied)))


def test_a_cut_short_evaluation_is_made_again(data, finished, copied):
    (copied / "runs" / "m" / "seed-0" / "ablation_eval.json").write_text('{"step"', "utf-8")
    result = _invoke(_finished_args(data, copied))
    assert result.exit_code == 0, result.output
    assert bpb_figures(json.loads(result.output)) == bpb_figures(finished["results"])


@pytest.mark.parametrize(
    "file, text",
    [
        ("ablation_eval.json", "[4]"),
        ("ablation_eval.json", '{"step": 2, "eval": 3, "val": []}'),
        ("ablation_eval.json", '{"step": 2, "eval": {}, "val": {}}'),
        ("summary.json", "[1]"),
    ],
)
def test_a_damaged_run_record_is_not_an_internal_error(data, copied, file, text):
    (copied / "runs" / "m" / "seed-0" / file).write_text(text, encoding="utf-8")
    result = _invoke(_finished_args(data, copied))
    assert "internal error" not in result.output and "Traceback" not in result.output


def test_killed_between_last_checkpoint_and_summary_resumes(data, finished, copied):
    run = copied / "runs" / "m" / "seed-0"
    for name in ("summary.json", "ablation_eval.json"):  # not yet written when it was killed
        (run / name).unlink()
    for name in ("results.json", "ablation.png"):
        (copied / name).unlink()
    result = _invoke(_finished_args(data, copied))
    assert result.exit_code == 0, result.output
    assert bpb_figures(json.loads(result.output)) == bpb_figures(finished["results"])


def test_a_damaged_token_dataset_gives_advice_ablate_can_follow(data, copied):
    shutil.rmtree(copied / "tokens" / "m" / "train")
    assert "--overwrite" not in _refused(_invoke(_finished_args(data, copied)))


KILLER = """\
import os, signal, sys
from pathlib import Path
import llm_pretrain.pipeline.runner as runner
import llm_pretrain.ablate.shared_tokenizer as shared
at = sys.argv.pop(1)
write = runner.atomic_write_json
def write_then_die(path, data, *args, **kwargs):
    write(path, data, *args, **kwargs)
    if at in Path(path).parts and "_progress" in Path(path).parts:
        os.kill(os.getpid(), signal.SIGKILL)
runner.atomic_write_json = write_then_die
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if at == "tokenizer":  # tokenizer.json saved, its report not yet
    shared.bytes_per_token = die
from llm_pretrain.cli_train import train
train(sys.argv[1:], prog_name="llm-train")
"""


@pytest.mark.parametrize("at", ["selected", "tokenizer"])
def test_killed_while_preparing_resumes_to_the_samebpb_figures(data, finished, tmp_path, at):
    """kill -9 after the first task of a selection, or between the tokenizer and its report:
    the same command then gives the uninterrupted numbers."""
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER, encoding="utf-8")
    out = tmp_path / "out"
    args = _finished_args(data, out)
    with open(tmp_path / "stderr", "wb") as stderr:  # a file: orphaned workers may hold it
        killed = subprocess.run([sys.executable, str(killer), at, *args], stderr=stderr)
    assert killed.returncode == -9, (tmp_path / "stderr").read_text()
    assert not (out / "results.json").exists()
    result = _invoke(args)
    assert result.exit_code == 0, result.output
    assert bpb_figures(json.loads(result.output)) == bpb_figures(finished["results"])


def test_a_stray_rank_without_torchrun_does_not_wait_forever(data, tmp_path, monkeypatch):
    import llm_pretrain.ablate.run as ablate_run

    def waits_forever(*args, **kwargs):
        raise AssertionError("waits for rank 0's data, forever")

    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(ablate_run, "wait_until_prepared", waits_forever)
    result = _invoke(_base(data, tmp_path / "out", "--variant", f"a={data['clean']}"))
    assert result.exit_code == 0, result.output


# ---- the corpus report -------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["cut short", "a list", "no comparison", "binary"])
def test_the_report_refuses_a_damaged_results_json(data, finished, tmp_path, damage):
    from llm_pretrain.cli import data as data_cli

    folder = tmp_path / "ablation"
    folder.mkdir()
    text = (finished["out"] / "results.json").read_text(encoding="utf-8")
    results = json.loads(text)
    del results["comparison"]
    (folder / "results.json").write_bytes(
        {
            "cut short": text[:200].encode(),
            "a list": b"[1, 2]",
            "no comparison": json.dumps(results).encode(),
            "binary": bytes(range(256)),
        }[damage]
    )
    corpus = tmp_path / "corpus"
    shutil.copytree(data["clean"], corpus / "extracted")
    result = CliRunner().invoke(data_cli, ["report", str(corpus), "-q", "--ablation", str(folder)])
    assert "results.json" in _refused(result)
    assert not (corpus / "report.html").exists()


def test_the_report_refuses_a_results_json_with_badbpb_figures(data, finished, tmp_path):
    from llm_pretrain.cli import data as data_cli

    results = json.loads((finished["out"] / "results.json").read_text(encoding="utf-8"))
    results["variants"]["m"]["eval"]["e"]["bpb"] = "abc"
    folder = tmp_path / "ablation"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    corpus = tmp_path / "corpus"
    shutil.copytree(data["clean"], corpus / "extracted")
    result = CliRunner().invoke(data_cli, ["report", str(corpus), "-q", "--ablation", str(folder)])
    _refused(result)
