"""The README is tested (issue 19): every command line it shows parses against the real
command line (known commands and options, chains that expand), and its quick start runs from
end to end on a small crawl, with only the sizes made small enough for a CPU."""

from __future__ import annotations

import glob
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.cli_chain import _names, _options, expand_chain
from llm_pretrain.cli_options import spread_values
from llm_pretrain.cli_train import train
from llm_pretrain.config import ConfigError
from llm_pretrain.samples import article, write_pdf, write_warc
from llm_pretrain.train.config import load_train_config
from tests.train.helpers import TINY

README = Path(__file__).resolve().parent.parent / "README.md"
COMMAND = re.compile(r"(?:^|[\s/$#])(llm-data|llm-train|-m llm_pretrain\.train)\s+(.*)$")


def readme_blocks() -> list[list[str]]:
    """The lines of each fenced block, a line ending in `\\` joined with the next."""
    blocks, current, inside = [], [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append(current)
            current, inside = [], not inside
            continue
        if inside:
            if current and current[-1].endswith("\\"):
                current[-1] = current[-1][:-1] + " " + line.strip()
            else:
                current.append(line)
    return blocks


def readme_commands() -> list[tuple[str, list[str]]]:
    """(program, arguments) of every command line of the README but synopses (`[--x]`,
    `PATH...`, `a|b`)."""
    found = []
    for block in readme_blocks():
        for line in block:
            match = COMMAND.search(line)
            if match is None or re.search(r"\[|\.\.\.|\w\|\w", match.group(2)):
                continue
            program = "llm-data" if match.group(1) == "llm-data" else "llm-train"
            found.append((program, shlex.split(match.group(2), comments=True)))
    return found


def check_parses(program: str, args: list[str]) -> None:
    """Each command of `args` exists and knows every option given to it, with its value; a
    chain expands. Paths need not exist: nothing runs."""
    group = data if program == "llm-data" else train
    if group is data:
        args = expand_chain(
            spread_values(args, group.multi_value_options, group.commands),
            group.commands,
            group.chain_folders,
        )
    segments: list[tuple[click.Command, list[str]]] = []
    for arg in args:
        if arg in group.commands and (group is data or not segments):
            segments.append((group.commands[arg], []))
        else:
            assert segments, f"{program} {shlex.join(args)}: no command"
            segments[-1][1].append(arg)
    for command, part in segments:
        for item in _options(command, part):
            if item[0].startswith("-"):
                name = item[0].split("=", 1)[0]
                assert name in _names(command), f"{command.name} has no option {name}"
        if command.name == "pretrain":  # its KEY=VALUE overrides name keys of the recipe
            load_train_config(None, [arg for arg in part if "=" in arg and arg[0] != "-"])


def test_the_readme_shows_commands_and_every_one_parses():
    commands = readme_commands()
    assert len(commands) >= 30
    for program, args in commands:
        check_parses(program, args)


def test_a_wrong_readme_command_would_be_caught():
    with pytest.raises(AssertionError, match="has no option --vocab"):
        check_parses("llm-data", ["tokenize", "-i", "a", "-o", "b", "--vocab", "3"])
    with pytest.raises(ConfigError, match="did you mean optimizer.lr"):
        check_parses("llm-train", ["pretrain", "-d", "t", "-o", "r", "optimizer.lrr=1"])
    with pytest.raises(click.UsageError):
        check_parses(
            "llm-data", ["extract", "-i", "a", "filter", "--index", "x", "dedup", "-o", "w"]
        )


SMALL = {"32768": "300", "2048": "32"}  # the quick start's vocabulary and sequence length


def quick_start() -> list[tuple[str, list[str]]]:
    block = next(b for b in readme_blocks() if any("make install" in line for line in b))
    lines = [line for line in block if COMMAND.search(line) and not line.startswith("#")]
    commands = []
    for line in lines:
        match = COMMAND.search(line)
        args = [SMALL.get(arg, arg) for arg in shlex.split(match.group(2), comments=True)]
        commands.append((match.group(1), args))
    return commands


def test_the_quick_start_runs_from_end_to_end(tmp_path, monkeypatch):
    """The quick start, command by command, in a folder with crawl/*.warc.gz and papers/:
    only the vocabulary and sequence length are smaller, and the 125M recipe gets the tiny
    model's sizes as KEY=VALUE overrides."""
    (tmp_path / "configs").symlink_to(README.parent / "configs")
    articles = [article(i, seed=9) for i in range(40)]
    (tmp_path / "crawl").mkdir()
    write_warc(tmp_path / "crawl" / "part-0.warc.gz", articles[:20])
    write_warc(tmp_path / "crawl" / "part-1.warc.gz", articles[20:36])
    (tmp_path / "papers").mkdir()
    for n, page in enumerate(articles[36:]):
        write_pdf(tmp_path / "papers" / f"paper-{n}.pdf", page.title, page.paragraphs)
    monkeypatch.chdir(tmp_path)
    commands = quick_start()
    assert [c[1][0] for c in commands] == [
        "extract", "filter", "dedup", "tokenize", "pretrain", "export", "sample"
    ]  # fmt: skip
    for program, args in commands:
        args = [expanded for arg in args for expanded in sorted(glob.glob(arg)) or [arg]]
        if args[0] == "pretrain":
            args = [*args, *TINY, "model.max_seq_len=32"]
        group = data if program == "llm-data" else train
        result = CliRunner().invoke(group, [*args, "-q"])
        assert result.exit_code == 0, (args, result.output)
    assert "The old bridge" in result.stdout


def normalised(text: str, workdir: str = "demo") -> list[str]:
    """Lines with what varies from run to run (times, rates, dates, memory) replaced."""
    text = text.replace(workdir, "demo")
    text = re.sub(r"\d{4}-\d\d-\d\d[T ][\d:,.+-]+", "<when>", text)
    text = re.sub(r"\d[\d,]*(\.\d+)? (s|docs/s|MB/s)\b", "<rate>", text)
    text = re.sub(r"peak memory: .*", "peak memory: <memory>", text)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_the_readme_demo_corpus_figures_come_from_a_run(tmp_path):
    """`make demo`'s data commands, run again: the README shows their output line for line
    (but times, rates, dates and memory)."""
    block = next(b for b in readme_blocks() if b and b[0].startswith("Built demo/crawl"))
    shown = "\n".join(block[: next(i for i, line in enumerate(block) if "llm-train" in line)])
    work = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "llm_pretrain.demo", "--workdir", str(work), "--no-train"],
        cwd=README.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    printed = normalised(done.stdout, str(work))
    assert normalised(shown) == [line for line in printed if "make demo" not in line]
