"""Chained stages: `llm-data extract --input crawl/ filter dedup tokenize --output corpus/`.

In a chain of dataset stages the one `--output` names a work folder; every stage writes its
dataset to a folder of its own in it (corpus/extracted, corpus/filtered, corpus/deduped,
corpus/tokens), where it can be inspected or run again alone, and every stage but the first
reads the dataset of the stage before it. This is done by rewriting the argument list into
the explicit form (`extract --input crawl/ --output corpus/extracted filter --input
corpus/extracted --output corpus/filtered ...`) before Click parses it, so that each command
keeps one meaning whether it runs alone or in a chain.

The options every stage of the chain has (`--config`, `--set`, the executor's, `-q`, `-v`,
`--json`, `--overwrite`) describe the whole run: wherever one stands, it is given to every
stage. An option that only some stages have must follow one of them; after another stage it
is a usage error naming the stages it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import click

IN_CHAIN = "llm_pretrain.in_chain"  # ctx.meta key: the stages of a chain, [] for none

INPUT = ("--input", "-i")
OUTPUT = ("--output", "-o")


def _option(command: click.Command, arg: str) -> click.Option | None:
    name = arg.split("=", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def takes_value(command: click.Command, option: str) -> bool:
    param = _option(command, option)
    return param is not None and not (param.is_flag or param.count) and "=" not in option


def _names(command: click.Command) -> set[str]:
    return {
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def _flag_cluster(command: click.Command, arg: str) -> list[str]:
    """`-qv` as `-q -v` when every letter is a flag of `command`; else `[arg]`."""
    if len(arg) > 2 and arg[0] == "-" and arg[1] != "-":
        flags = [f"-{letter}" for letter in arg[1:]]
        if all((p := _option(command, f)) is not None and p.is_flag for f in flags):
            return flags
    return [arg]


def _options(command: click.Command, args: list[str]) -> list[list[str]]:
    """`args` cut into options, each with its value (`["--set", "a=1"]`, `["-q"]`)."""
    expanded = [part for arg in args for part in _flag_cluster(command, arg)]
    items: list[list[str]] = []
    for arg in expanded:
        if items and len(items[-1]) == 1 and takes_value(command, items[-1][0]):
            items[-1].append(arg)
        else:
            items.append([arg])
    return items


NOTHING_RUNS = {"--help", "-h", "--help-all", "--print-config"}
CHAIN_OWN = {*INPUT, *OUTPUT, "--help", "-h", "--help-all"}


def _share_run_options(
    segments: list[tuple[str, list[str]]], commands: Mapping[str, click.Command]
) -> list[tuple[str, list[str]]]:
    """Every stage's arguments with the run options of the whole chain added; an option of
    some stages only, given after another, is a usage error."""
    stages = [commands[name] for name, _ in segments]
    shared = set.intersection(*(_names(command) for command in stages)) - CHAIN_OWN
    run_options: list[str] = []
    own: list[tuple[str, list[str]]] = []
    for name, part in segments:
        kept: list[str] = []
        for item in _options(commands[name], part):
            flag = item[0].split("=", 1)[0]
            if len(item) == 1 and takes_value(commands[name], item[0]):
                raise click.UsageError(f"{flag} needs a value")
            if flag in shared:
                run_options += item
                continue
            if flag.startswith("-") and flag not in _names(commands[name]):
                owners = [other for other, _ in segments if flag in _names(commands[other])]
                if owners:
                    raise click.UsageError(
                        f"{flag} is an option of {' and '.join(owners)}, not of {name}: in a "
                        f"chain, give it after `{owners[0]}`"
                    )
            kept += item
        own.append((name, kept))
    return [(name, [*kept, *run_options]) for name, kept in own]


def _segments(
    args: list[str], commands: Mapping[str, click.Command]
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The group's own arguments, then (command name, its arguments) in order."""
    head: list[str] = []
    segments: list[tuple[str, list[str]]] = []
    expects_value = False
    for arg in args:
        if arg in commands and not expects_value:
            segments.append((arg, []))
            continue
        (segments[-1][1] if segments else head).append(arg)
        command = commands[segments[-1][0]] if segments else None
        expects_value = (
            not expects_value
            and command is not None
            and arg.startswith("-")
            and takes_value(command, arg)
        )
    return head, segments


def _values(args: list[str], names: tuple[str, ...]) -> list[str]:
    return [args[k + 1] for k, arg in enumerate(args[:-1]) if arg in names]


def _without(args: list[str], names: tuple[str, ...]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        else:
            kept.append(arg)
    return kept


def expand_chain(
    args: list[str], commands: Mapping[str, click.Command], folders: Mapping[str, str]
) -> list[str]:
    """The explicit argument list of a chain of dataset stages (`folders`: stage -> folder name).

    Arguments that are not a chain of two or more such stages come back unchanged.
    """
    spelled_out = [
        part
        for arg in args
        for part in (arg.split("=", 1) if arg.split("=", 1)[0] in (*INPUT, *OUTPUT) else [arg])
    ]  # `--output=w` as `--output w`
    head, segments = _segments(spelled_out, commands)
    stages = [name for name, _ in segments if name in folders]
    if len(stages) < 2:
        return args
    if len(stages) != len(segments):
        others = sorted({name for name, _ in segments if name not in folders})
        raise click.UsageError(f"{', '.join(others)} cannot be chained with dataset stages")
    for name, part in segments:  # help asked for in a chain: that stage's help, nothing run
        for flag in part:
            if flag in ("--help", "-h", "--help-all"):
                return [*head, name, flag]
    if len(set(stages)) != len(stages):
        raise click.UsageError("a chain runs each stage once")
    order = list(folders)
    if stages != sorted(stages, key=order.index):
        raise click.UsageError(f"a chain runs its stages in the order {' '.join(order)}")
    outputs = [value for _, part in segments for value in _values(part, OUTPUT)]
    if not outputs and any(arg in NOTHING_RUNS for _, part in segments for arg in part):
        outputs = ["."]  # --help or --print-config: nothing is written
    if len(outputs) != 1:
        raise click.UsageError(
            "a chain of stages writes its datasets under one work folder: give --output once "
            f"(got {len(outputs)})"
        )
    for name, part in segments[1:]:
        if _values(part, INPUT):
            raise click.UsageError(f"in a chain, {name} reads the output of the stage before it")
    if not outputs[0].strip():
        raise click.UsageError("--output is empty: give the chain's work folder")
    workdir = outputs[0].rstrip("/") or "/"
    segments = _share_run_options(segments, commands)
    result = list(head)
    previous: str | None = None
    for name, part in segments:
        output = f"{workdir}/{folders[name]}"
        result += [name, *_without(part, OUTPUT), "--output", output]
        if previous is not None:
            result += ["--input", previous]
        previous = output
    return result


def chained_stages(
    args: list[str], commands: Mapping[str, click.Command], folders: Mapping[str, str]
) -> list[str]:
    """The stages of a chain in `args` (as `expand_chain` reads them); [] when it is none."""
    _, segments = _segments(args, commands)
    stages = [name for name, _ in segments if name in folders]
    return stages if len(stages) >= 2 else []


def json_result(result: dict) -> dict | None:
    """Print a stage's JSON result; in a chain, return it keyed by stage for `print_chain`,
    so that a chain prints one JSON document."""
    ctx = click.get_current_context()
    if ctx.meta.get(IN_CHAIN):
        return {ctx.info_name: result}
    click.echo(json.dumps(result, indent=2, sort_keys=True))
    return None
