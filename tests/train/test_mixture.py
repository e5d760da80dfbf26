"""Weighted data mixtures: proportions, every row of each source once per pass, resume at the
same and at another world size, per-source validation and tokens, and the checks."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from llm_pretrain.cli_train import train
from llm_pretrain.errors import NotFound
from llm_pretrain.train.checkpoint import read_state
from llm_pretrain.train.config import MixSource
from llm_pretrain.train.data import SourceDraw, TokenData
from llm_pretrain.train.metrics import read_metrics
from llm_pretrain.train.mixture import Source, _check_together, open_mixture
from llm_pretrain.train.runtime import TrainError
from llm_pretrain.train.trainer import pretrain
from tests.train.helpers import TINY, losses, tiny_config, val_losses
from tests.train.test_processes import llm_train, run


def mixture(web: Path, books: Path, web_weight: float = 0.7) -> dict[str, MixSource]:
    return {
        "web": MixSource(path=str(web), weight=web_weight),
        "books": MixSource(path=str(books), weight=1 - web_weight),
    }


def test_the_draw_holds_the_weights_within_1_percent_over_10k_rows():
    for weights in ([0.7, 0.3], [0.5, 0.3, 0.15, 0.05], [0.99, 0.01]):
        draw = SourceDraw(weights, seed=3)
        for start in (0, 123_457, 10**9):
            counts = np.bincount(draw.sources(start, 10_000), minlength=len(weights))
            assert np.abs(counts / 10_000 - weights).max() < 0.01, (weights, start, counts)
        again = SourceDraw(weights, seed=3).sources(500, 100)
        assert (again == draw.sources(500, 100)).all()  # fixed by the seed and the position
        assert not (SourceDraw(weights, seed=4).sources(500, 100) == again).all()


def test_each_source_gives_every_row_once_per_pass_in_its_share(token_data, books):
    """Rows told apart by their ids: over a run of batches split between 2 ranks, books (30%)
    gives each of its rows once before any repeats, and 30% of the rows within a row."""
    data = open_mixture(mixture(token_data, books))
    readers = {source.name: source.data.train for source in data.sources}
    web_rows, book_rows = len(readers["web"]), len(readers["books"])
    owner = {}
    for name, reader in readers.items():
        for row in range(len(reader)):
            owner[tuple(reader[row][0].tolist())] = (name, row)
    ranks = [data.batches(4, rank, 2, seed=5) for rank in range(2)]
    seen = []
    for _ in range(book_rows // 2):  # 4 x book_rows rows: books gives 1.2 passes
        for batches in ranks:
            batch = batches.next_batch()
            full = np.concatenate([batch.inputs.numpy(), batch.targets.numpy()[:, -1:]], axis=1)
            seen += [owner[tuple(row.tolist())] for row in full]
    assert len(owner) == web_rows + book_rows  # every row of both is distinct
    taken = [row for name, row in seen if name == "books"]
    assert abs(len(taken) - 0.3 * len(seen)) <= 2
    first_pass = taken[:book_rows]
    assert sorted(first_pass) == list(range(book_rows))
    assert [source.name for source in data.sources] == ["books", "web"]  # by name, not YAML's
    expected = [len(taken), len(seen) - len(taken)]
    assert ranks[0].source_positions == ranks[1].source_positions == expected


def test_a_mixture_trains_reports_each_source_and_resumes_exactly(token_data, books, tmp_path):
    sources = mixture(token_data, books)
    config = tiny_config()
    whole = pretrain(config, sources, tmp_path / "whole", show_progress=False)
    lines = read_metrics(tmp_path / "whole" / "metrics.jsonl")
    last = [line for line in lines if "tokens" in line][-1]
    assert last["tokens/web"] + last["tokens/books"] == last["tokens"] == 12 * 16 * 32
    assert last["tokens/books"] / last["tokens"] == pytest.approx(0.3, abs=2 / (12 * 16))
    evaluation = [line for line in lines if "val_loss" in line][-1]
    mean = 0.7 * evaluation["val_loss/web"] + 0.3 * evaluation["val_loss/books"]
    assert evaluation["val_loss"] == pytest.approx(mean)
    bits = 0.7 * evaluation["val_bpb/web"] + 0.3 * evaluation["val_bpb/books"]
    assert evaluation["val_bpb"] == pytest.approx(bits)
    state = read_state(tmp_path / "whole" / "checkpoints" / "step-000012")
    assert sum(state["source_positions"].values()) == state["position"] == 12 * 16
    assert set(state["data"]["sources"]) == {"web", "books"}

    pretrain(config, sources, tmp_path / "halves", show_progress=False, stop_after_steps=7)
    resumed = pretrain(config, sources, tmp_path / "halves", show_progress=False)
    assert resumed.start_step == 7
    assert losses(tmp_path / "halves") == whole.losses
    assert val_losses(tmp_path / "halves") == val_losses(tmp_path / "whole")


def test_a_mixture_resumes_exactly_at_another_world_size(token_data, books, tmp_path):
    """2 processes on gloo stop at step 6; one process continues: the losses of one process
    all along, and the 2-process run itself gives them too."""
    recipe = tmp_path / "mix.yaml"
    data = {name: source.model_dump() for name, source in mixture(token_data, books).items()}
    recipe.write_text(yaml.safe_dump({"data": data}))
    config = tiny_config()
    one = pretrain(config, mixture(token_data, books), tmp_path / "one", show_progress=False)
    args = ["pretrain", "-c", str(recipe), "-q", *TINY]
    run(llm_train(*args, "--out", str(tmp_path / "two"), processes=2))
    two = losses(tmp_path / "two")
    for step, loss in one.losses.items():
        assert two[step] == pytest.approx(loss, rel=1e-4), step

    run(llm_train(*args, "--out", str(tmp_path / "mixed"), "--stop-after-steps=6", processes=2))
    assert read_state(tmp_path / "mixed" / "checkpoints" / "step-000006")["world_size"] == 2
    resumed = pretrain(config, mixture(token_data, books), tmp_path / "mixed", show_progress=False)
    assert resumed.start_step == 6
    for step in range(7, 13):
        assert resumed.losses[step] == pytest.approx(one.losses[step], rel=1e-4), step


def test_a_source_that_starts_repeating_is_named(token_data, books, tmp_path, caplog):
    sources = mixture(token_data, books, web_weight=0.2)  # books: 80% of 16 rows a step
    book_rows = next(
        s.data.rows("train") for s in open_mixture(sources).sources if s.name == "books"
    )
    steps = book_rows // 12 + 2
    with caplog.at_level(logging.WARNING, logger="llm_pretrain.train.trainer"):
        pretrain(tiny_config(f"max_steps={steps}"), sources, tmp_path / "run", show_progress=False)
    warnings = [r.getMessage() for r in caplog.records if "starts repeating" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("data source books starts repeating")
    assert f"all its {book_rows:,} rows were seen" in warnings[0]


def test_sources_one_model_cannot_read_together_are_refused(
    token_data, books, other_tokenizer, tmp_path
):
    other = other_tokenizer
    with pytest.raises(TrainError, match="was tokenized with another tokenizer than"):
        open_mixture(mixture(token_data, other))
    longer = open_mixture(books).primary
    longer = TokenData(longer.folder, {**longer.manifest, "seq_len": 64})
    with pytest.raises(TrainError, match="data source b has rows of 64 tokens, a of 32"):
        _check_together(
            Source("a", open_mixture(token_data).primary, 0.5), Source("b", longer, 0.5)
        )
    same = {"a": MixSource(path=str(books), weight=1), "b": MixSource(path=str(books), weight=1)}
    with pytest.raises(TrainError, match="data sources a and b are the same folder"):
        open_mixture(same)
    missing = {"web": MixSource(path=str(tmp_path / "none"), weight=1)}
    with pytest.raises(NotFound, match=r"^data source web: token data .*none does not exist"):
        open_mixture(missing)


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "a mixture names at least one source"),
        ({"a b": {"path": "x", "weight": 1}}, "source name 'a b'"),
        ({"web": {"path": "x", "weight": 0}}, "greater than 0"),
        ({"web": {"path": "x"}}, "weight"),
    ],
)
def test_a_bad_mixture_is_a_one_line_config_error(tmp_path, data, message):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump({"data": data}))
    result = CliRunner().invoke(train, ["pretrain", "-c", str(recipe), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_the_out_folder_may_not_be_inside_a_source(token_data, books, tmp_path):
    recipe = tmp_path / "mix.yaml"
    data = {name: source.model_dump() for name, source in mixture(token_data, books).items()}
    recipe.write_text(yaml.safe_dump({"data": data}))
    result = CliRunner().invoke(train, ["pretrain", "-c", str(recipe), "-o", str(books / "run")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert str(books) in result.output
    assert not (books / "run").exists()


def test_a_run_on_one_folder_continues_as_a_mixture_of_it_and_a_new_source(
    token_data, books, tmp_path, caplog
):
    """The folder's rows continue where they were (found by its fingerprint); the new source
    starts at its first row."""
    out = tmp_path / "run"
    pretrain(tiny_config(), token_data, out, show_progress=False, stop_after_steps=6)
    assert read_state(out / "checkpoints" / "step-000006")["source_positions"] == {"data": 96}
    with caplog.at_level(logging.WARNING, logger="llm_pretrain.train.trainer"):
        pretrain(tiny_config("max_steps=7"), mixture(token_data, books), out, show_progress=False)
    assert "data source books is new: it starts at its first row" in caplog.text
    state = read_state(out / "checkpoints" / "step-000007")
    drawn = np.bincount(SourceDraw([0.3, 0.7], seed=0).sources(96, 16), minlength=2)
    assert state["source_positions"] == {"books": int(drawn[0]), "web": 96 + int(drawn[1])}
    # web keeps the folder's shuffled order (the run's seed); books has one of its own
    assert state["source_seeds"] == {"books": [0, zlib.crc32(b"books")], "web": 0}


def test_a_mixture_of_one_source_resumes_where_it_was(token_data, tmp_path):
    sources = {"web": MixSource(path=str(token_data), weight=1.0)}
    whole = pretrain(tiny_config(), sources, tmp_path / "whole", show_progress=False)
    pretrain(tiny_config(), sources, tmp_path / "run", show_progress=False, stop_after_steps=5)
    assert pretrain(tiny_config(), sources, tmp_path / "run", show_progress=False).start_step == 5
    assert losses(tmp_path / "run") == whole.losses
    state = read_state(tmp_path / "run" / "checkpoints" / "step-000012")
    assert state["source_positions"] == {"web": 12 * 16} and set(state["data"]["sources"]) == {
        "web"
    }


def test_data_on_the_command_line_replaces_the_recipe_mixture(token_data, books, tmp_path):
    recipe = tmp_path / "mix.yaml"
    data = {name: source.model_dump() for name, source in mixture(token_data, books).items()}
    recipe.write_text(yaml.safe_dump({"data": data}))
    out = tmp_path / "run"
    args = ["pretrain", "-c", str(recipe), "--data", str(books), "-o", str(out), "-q", *TINY]
    result = CliRunner().invoke(train, [*args, "max_steps=2"])
    assert result.exit_code == 0, result.output
    state = read_state(out / "checkpoints" / "step-000002")
    assert state["data"]["path"] == str(books.resolve()) and "sources" not in state["data"]


def test_print_config_shows_a_mixture_that_loads_back(tmp_path):
    args = ["pretrain", "--print-config", "data.web.path=w", "data.web.weight=2"]
    printed = CliRunner().invoke(train, args)
    assert printed.exit_code == 0 and "data: {web: {path: w, weight: 2.0}}" in printed.output
    (tmp_path / "r.yaml").write_text(printed.output)
    again = CliRunner().invoke(
        train, ["pretrain", "--print-config", "-c", str(tmp_path / "r.yaml")]
    )
    assert again.output == printed.output


def test_new_weights_on_resume_draw_on_from_where_each_source_was(token_data, books, tmp_path):
    out = tmp_path / "run"
    pretrain(
        tiny_config(), mixture(token_data, books), out, show_progress=False, stop_after_steps=6
    )
    before = read_state(out / "checkpoints" / "step-000006")["source_positions"]
    even = mixture(token_data, books, web_weight=0.5)
    pretrain(tiny_config("max_steps=8"), even, out, show_progress=False)
    state = read_state(out / "checkpoints" / "step-000008")
    drawn = np.bincount(SourceDraw([0.5, 0.5], seed=0).sources(96, 32), minlength=2)
    assert state["source_positions"] == {
        "books": before["books"] + int(drawn[0]),
        "web": before["web"] + int(drawn[1]),
    }
    assert state["data"]["sources"]["books"]["weight"] == 0.5
