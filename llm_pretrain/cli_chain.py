"""Chained stages: `llm-data extract --input crawl/ filter dedup tokenize --output corpus/`.

In a chain of dataset stages the one `--output` names a work folder; every stage writes its
dataset to a folder of its own in it (corpus/extracted, corpus/filtered, corpus/deduped,
corpus/tokens), where it can be inspected or run again alone, and every stage but the first
reads the dataset of the stage before it. This is done by rewriting the argument list into
the explicit form (`extract --input crawl/ --output corpus/extracted filter --input
corpus/extracted --output corpus/filtered ...`) before Click parses it, so that each command
keeps one meaning whether it runs alone or in a chain.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

INPUT = ("--input", "-i")
OUTPUT = ("--output", "-o")


def _takes_value(command: click.Command, option: str) -> bool:
    name = option.split("=", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return not (param.is_flag or param.count) and "=" not in option
    return False


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
            and _takes_value(command, arg)
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
    outputs = [value for _, part in segments for value in _values(part, OUTPUT)]
    if len(outputs) != 1:
        raise click.UsageError(
            "a chain of stages writes its datasets under one work folder: give --output once "
            f"(got {len(outputs)})"
        )
    for name, part in segments[1:]:
        if _values(part, INPUT):
            raise click.UsageError(f"in a chain, {name} reads the output of the stage before it")
    workdir = outputs[0].rstrip("/") or "/"
    result = list(head)
    previous: str | None = None
    for name, part in segments:
        output = f"{workdir}/{folders[name]}"
        result += [name, *_without(part, OUTPUT), "--output", output]
        if previous is not None:
            result += ["--input", previous]
        previous = output
    return result
