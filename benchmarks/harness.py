"""What every benchmark here shares, so that each file keeps only its variants, peers and report.

- child runs: a variant runs as `python BENCHMARK.py --variant NAME ...` in a fresh interpreter,
  so that imports, caches and peak memory never leak between variants; the child hands its JSON
  result back (`report`) through a file under the work folder or its last line of output, and
  the parent reads it (`run_child`);
- rounds of all variants in turn (`interleaved`), so that a slow spell hits all alike; the best
  (`best`) or the median (`median`) of them;
- peak memory (`peak_rss_mb`), ratios and goal lines (`ratio`, `goal`, `target_goal`);
- fixed-width tables (`Table`, `Column`);
- our dataset made of a benchmark's JSONL by `run_extract`, untimed (`extract_jsonl`).

Imported by its bare name: the benchmarks run as scripts, so their folder is first on sys.path.
"""

from __future__ import annotations

import contextlib
import json
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from llm_pretrain.pipeline.runner import RunSummary

Result = dict[str, Any]  # what a variant reports: at least "seconds", its timed span


# ---------------------------------------------------------------------------------------------
# Child runs
# ---------------------------------------------------------------------------------------------


def result_path(work: Path, variant: str) -> Path:
    """Where a variant's JSON result lies under the work folder ("html/ours1": html-ours1)."""
    return work / "results" / f"{variant.replace('/', '-')}.json"


def run_child(
    script: str | Path, variant: str, options: Iterable[str] = (), work: Path | None = None
) -> Result:
    """Run `script --variant VARIANT OPTIONS` in a fresh interpreter and return its result.

    With `work`, the child gets `--work WORK`, writes its result to `result_path` (kept with
    the other results) and its output goes to WORK/logs/VARIANT.log (peers log a lot); without,
    its result is its last line of output and its stderr is shown when it fails.
    """
    command = [sys.executable, str(script), "--variant", variant, *options]
    if work is None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"variant {variant} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
            )
        return json.loads(done.stdout.strip().splitlines()[-1])
    result = result_path(work, variant)
    log = work / "logs" / f"{result.stem}.log"
    result.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    with open(log, "w") as output:
        command += ["--work", str(work)]
        done = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"variant {variant} failed (exit {done.returncode}), see {log}")
    return json.loads(result.read_text(encoding="utf-8"))


def report(result: Result, work: Path | None = None, variant: str = "") -> None:
    """Child side of `run_child`: the result as JSON, in the file the parent reads or as the
    last line of output."""
    if work is None:
        print(json.dumps(result))
    else:
        result_path(work, variant).write_text(json.dumps(result), encoding="utf-8")


def peak_rss_mb(since_exec: bool = True) -> tuple[float, float]:
    """Peak resident memory, in MB of 2**20 bytes, of this process and of its largest finished
    child (a pool worker).

    since_exec: this process's own peak (VmHWM); getrusage's, the other choice, also counts the
    peak of the parent that started it, which Linux carries over fork and exec.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if since_exec:
        with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    own = int(line.split()[1]) / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def memory_cell(own: float, child: float) -> str:
    """A table cell for a process's peak and its largest child's: "310+512"."""
    return f"{own:.0f}+{child:.0f}"


# ---------------------------------------------------------------------------------------------
# Rounds, best and median
# ---------------------------------------------------------------------------------------------


def interleaved(
    names: Sequence[str],
    rounds: int,
    run: Callable[[str], Result],
    progress: str | None = None,
    once: Collection[str] = (),
    stream: TextIO | None = None,
) -> dict[str, list[Result]]:
    """Every variant's results over `rounds` rounds of all variants in turn (those in `once`
    only in the first: the slow peers), so that a slow spell of the machine hits all alike.

    progress: a line printed after each run (to stderr unless `stream`), formatted with
    round, rounds, name and seconds, e.g. "  round {round}/{rounds} {name}: {seconds:.2f} s".
    """
    results: dict[str, list[Result]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names:
            if index and name in once:
                continue
            result = run(name)
            results[name].append(result)
            if progress is not None:
                line = progress.format(
                    round=index + 1, rounds=rounds, name=name, seconds=result["seconds"]
                )
                print(line, file=stream or sys.stderr, flush=True)
    return results


def best(results: Sequence[Result]) -> Result:
    """The fastest of a variant's results (the first of equals): other work on the machine
    only ever slows a run down."""
    return min(results, key=lambda result: result["seconds"])


def median(values: Iterable[float]) -> float:
    """The median, robust to the spikes of other work on a shared machine."""
    return float(statistics.median(values))


@dataclass
class Timed:
    """A variant's times over its rounds and the documents it went through: the best counts."""

    docs: int
    times: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The best round's time."""
        return min(self.times)

    @property
    def worst(self) -> float:
        """The worst round's time: how noisy the machine was."""
        return max(self.times)

    @property
    def docs_per_s(self) -> float:
        """Documents per second of the best round."""
        return self.docs / self.seconds if self.times and self.seconds else 0.0


# ---------------------------------------------------------------------------------------------
# Ratios and goals
# ---------------------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, 0.0 when there is nothing to divide by (a variant left out)."""
    return numerator / denominator if denominator else 0.0


def verdict(met: bool) -> str:
    """The word a goal line ends with."""
    return "met" if met else "NOT met"


def goal(text: str, met: bool, indent: str = "", sep: str = " -> ") -> bool:
    """Print a goal line, "goal: TEXT -> met" (or "NOT met"); return whether it is met."""
    print(f"{indent}goal: {text}{sep}{verdict(met)}")
    return met


def target_goal(text: str, value: float | None, target: float, unit: str = "x") -> Result:
    """A goal on a figure against its target ("goal: TEXT: 1.62x (target >= 1.5x) -> met";
    unit "" writes a share with 4 decimals); what it printed, for a summary file."""
    met = value is not None and value >= target
    shown = "-" if value is None else (f"{value:.2f}x" if unit == "x" else f"{value:.4f}")
    goal(f"{text}: {shown} (target >= {target:g}{unit})", met)
    return {"goal": text, "value": value, "target": target, "met": met}


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a fixed-width table: its title, width, the format spec of its values
    (".2f", ".1%"; "" for text written beforehand) and its side."""

    title: str
    width: int
    spec: str = ""
    left: bool = False

    def cell(self, value: object, spec: str | None = None) -> str:
        """A value written in the column's width and side (and format, unless `spec`)."""
        side = "<" if self.left else ">"
        return format(value, f"{side}{self.width}{self.spec if spec is None else spec}")


class Table:
    """A table printed line by line: a header (with a rule of dashes under it, if `rule`),
    then rows of values in the columns' formats, the columns joined by `sep`."""

    def __init__(self, *columns: Column, rule: bool = True, sep: str = "") -> None:
        self.columns = columns
        self.rule = rule
        self.sep = sep

    def header(self) -> None:
        """Print the titles, and the rule under them."""
        line = self.sep.join(column.cell(column.title, "") for column in self.columns)
        print(line)
        if self.rule:
            print("-" * len(line))

    def line(self, *values: object) -> str:
        """The first len(values) cells of a row."""
        columns = self.columns[: len(values)]
        return self.sep.join(column.cell(v) for column, v in zip(columns, values, strict=True))

    def row(self, *values: object) -> None:
        """Print a row: one value for each column."""
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        print(self.line(*values))


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------


def extract_jsonl(
    source: Path, out: Path, settings: dict[str, Any], overwrite: bool = True
) -> RunSummary:
    """Our dataset made of a benchmark's JSONL file or folder by `run_extract` (untimed: the
    input of the variants), with config `settings` ({"executor.workers": 2}); its summary."""
    from llm_pretrain.config import load_config
    from llm_pretrain.stages import run_extract

    config = load_config(None, settings)
    return run_extract([str(source)], out, config, show_progress=False, overwrite=overwrite)
