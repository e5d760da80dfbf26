"""Click plumbing shared by every command: config options generated from the config models,
the standard --quiet/--verbose/--json flags, and options that take several values."""

from __future__ import annotations

import logging
import signal
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click
from pydantic import BaseModel

from llm_pretrain.cli_chain import expand_chain
from llm_pretrain.config import ConfigError, PipelineConfig, load_config, parse_assignment
from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.pipeline.errors import StageError
from llm_pretrain.pipeline.storage import url_error
from llm_pretrain.signals import exit_code, signal_number, stops_raise

PREFIX = "cfg__"


class LocalPath(click.Path):
    """click.Path that refuses URLs with a usage error (see storage.url_error)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and (problem := url_error(value)) is not None:
            self.fail(problem, param, ctx)
        return super().convert(value, param, ctx)


def _leaf_fields(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[tuple[tuple, Any]]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaf_fields(annotation, (*path, name))
        else:
            yield (*path, name), info


SCALARS = {int: click.INT, float: click.FLOAT, str: click.STRING, bool: click.BOOL}


def _click_type(annotation: Any) -> Any:
    """The Click type of a scalar field; None for lists and mappings (reachable with --set)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return click.Choice([str(value) for value in get_args(annotation)])
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _click_type(members[0]) if len(members) == 1 else None
    return SCALARS.get(annotation)


def config_options(*sections: str) -> Callable[[Callable], Callable]:
    """Add one option per config field of `sections`, named after its path in the section.

    `extract.html.mode` becomes `--html-mode` on a command given section `extract`. Options
    default to None, meaning "not given": only given options override the YAML. List and
    mapping fields get no option of their own; `--set key=[a,b]` reaches them.
    """
    options = []
    for section in sections:
        model = PipelineConfig.model_fields[section].annotation
        for path, info in _leaf_fields(model, ()):
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            flag = "--" + str(extra.get("cli_flag") or "-".join(path).replace("_", "-"))
            dotted = ".".join((section, *path))
            dest = PREFIX + "__".join((section, *path))
            default = info.get_default(call_default_factory=True)
            shown = "null" if default is None else default
            help_text = f"{info.description} [{dotted}; default: {shown}]"
            click_type = _click_type(info.annotation)
            if click_type is None:
                continue
            if info.annotation is bool:
                name = flag[2:]
                options.append(
                    click.option(f"--{name}/--no-{name}", dest, default=None, help=help_text)
                )
            else:
                options.append(
                    click.option(flag, dest, type=click_type, default=None, help=help_text)
                )

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def config_file_options(command: Callable) -> Callable:
    command = click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override any config key, e.g. --set extract.html.mode=precision (repeatable).",
    )(command)
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=LocalPath(exists=True, dir_okay=False, path_type=Path),
        help="Pipeline config YAML (see configs/pipeline.yaml); defaults apply without it.",
    )(command)


def resolve_config(config_path: Path | None, assignments: Iterable[str], options: dict) -> Any:
    """YAML, then --set assignments, then dedicated options (the most specific wins)."""
    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        for name, value in options.items():
            if name.startswith(PREFIX) and value is not None:
                overrides[name[len(PREFIX) :].replace("__", ".")] = value
        return load_config(config_path, overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def output_options(command: Callable) -> Callable:
    """--quiet, --verbose, --json: the same on every command."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON on standard output."
    )(command)
    command = click.option("--verbose", "-v", is_flag=True, help="Log details to standard error.")(
        command
    )
    return click.option(
        "--quiet", "-q", is_flag=True, help="No progress bar or log lines, only the result."
    )(command)


def setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s", force=True
    )


class StopsCleanly(click.Group):
    """A group whose commands end in one line, never a traceback, when stopped or failed by
    what is outside the program: SIGINT and SIGTERM (exit code 130 or 143 and how to go on,
    not Click's "Aborted!" and 1, nor a process killed where it stood), a damaged file of the
    tool's own (`StageError`), or the system refusing a read or write (`OSError`: a full disk,
    a folder without permission), exit code 1."""

    stop_hint = "run the same command to continue"

    def invoke(self, ctx: click.Context) -> Any:
        with stops_raise():
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt as exc:
                signum = signal_number(exc)
                click.echo(f"stopped by {signal.Signals(signum).name}; {self.stop_hint}", err=True)
                ctx.exit(exit_code(signum))
            except StageError as exc:
                raise click.ClickException(for_console(str(exc), lines=False)) from None
            except OSError as exc:
                where = f"{exc.filename}: " if exc.filename else ""
                message = for_console(f"{where}{exc.strerror or exc}", lines=False)
                raise click.ClickException(message) from None


class MultiValueGroup(StopsCleanly):
    """A group whose `--input a b c` means `--input a --input b --input c`.

    Click options take one value each; this rewrites the argument list before parsing. The
    values of a multi-value option run until the next option or the name of a subcommand (for
    chained commands); write `./NAME` for an input literally called like a subcommand.
    """

    stop_hint = "finished tasks are kept: run the same command to continue"
    multi_value_options = ("--input", "-i", "--positive", "--negative")
    # Dataset stages that chain: the folder each writes under a chain's work folder.
    chain_folders: dict[str, str] = {}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = spread_values(args, self.multi_value_options, self.commands)
        return super().parse_args(ctx, expand_chain(args, self.commands, self.chain_folders))


def spread_values(args: list[str], options: Iterable[str], stop_words: Iterable[str]) -> list[str]:
    options, stop_words = set(options), set(stop_words)
    result: list[str] = []
    current: str | None = None
    taken = 0
    for arg in args:
        if arg in options:
            current, taken = arg, 0
            result.append(arg)
        elif current is not None and taken == 0:
            result.append(arg)
            taken = 1
        elif current is not None and not arg.startswith("-") and arg not in stop_words:
            result += [current, arg]
        else:
            current = None
            result.append(arg)
    return result
