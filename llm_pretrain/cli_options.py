"""Click plumbing shared by every command: config options generated from the config models,
the standard --quiet/--verbose/--json flags, and options that take several values."""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

import click
import yaml
from pydantic import BaseModel

from llm_pretrain.cli_chain import IN_CHAIN, chained_stages, expand_chain, takes_value
from llm_pretrain.config import PipelineConfig, load_config, parse_assignment
from llm_pretrain.configbase import load_yaml
from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.documents import for_console
from llm_pretrain.remote.stores import canonical, is_url, strip_scheme
from llm_pretrain.signals import exit_code, signal_number, stops_raise
from llm_pretrain.storage import url_error

PREFIX = "cfg__"
# Click 8.2+ raises this for a group run without arguments; older ones print help and exit.
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
FLAGS: dict[str, str] = {}  # dotted config key -> the option that sets it


def safe_console() -> None:
    """Print what cannot be encoded (a file name of non-UTF-8 bytes, a lone surrogate from a
    JSON record) as a backslash escape instead of failing on it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


class LocalPath(click.Path):
    """click.Path that refuses URLs with a usage error (see storage.url_error)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and (problem := url_error(value)) is not None:
            self.fail(problem, param, ctx)
        return super().convert(value, param, ctx)


class Location(click.Path):
    """A folder, or an object-store URL (s3://, gs://, az://; remote/stores.py), given as
    the string it is: `Path("s3://b/x")` would quietly become the local folder `s3:/b/x`."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and is_url(value):
            url = canonical(value)  # S3://b/x is s3://b/x: one staging folder, one lock
            if not strip_scheme(url):
                self.fail(f"{value}: name a bucket (and a prefix): s3://bucket/corpus", param, ctx)
            return url.rstrip("/")
        return super().convert(value, param, ctx)


class FiniteRange(click.FloatRange):
    """click.FloatRange that refuses nan and inf (every comparison with nan is false, so a
    range alone lets it through)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


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
            FLAGS[dotted] = flag
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
        "--print-config",
        is_flag=True,
        help="Print the effective config (defaults, --config, --set and options) as YAML with "
        "each key's description, and exit.",
    )(command)
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


def resolve_config(
    config_path: Path | None, assignments: Iterable[str], options: dict, as_json: bool = False
) -> Any:
    """YAML, then --set assignments, then dedicated options (the most specific wins). With
    --print-config: print the sections this command uses, and exit."""
    overrides = dict(parse_assignment(text) for text in assignments)
    given = {key: f"--set {key}" for key in overrides}
    for name, value in options.items():
        if name.startswith(PREFIX) and value is not None:
            key = name[len(PREFIX) :].replace("__", ".")
            overrides[key], given[key] = value, FLAGS[key]
    config = load_config(config_path, overrides, given)
    changed = json.dumps(config.model_dump(exclude_defaults=True), sort_keys=True)
    logging.getLogger(__name__).debug("config (what differs from the defaults): %s", changed)
    if options.get("print_config"):
        ctx = click.get_current_context()
        click.echo(config_text(config, config_sections(ctx), as_json), nl=False)
        ctx.exit(0)
    return config


@dataclass(frozen=True)
class Run:
    """What the options every command shares ask for: logging is set up, the config resolved."""

    quiet: bool
    as_json: bool
    config: Any

    def echo(self, result: Any, text: str) -> None:
        """Print the command's result: as JSON with --json, else as text."""
        click.echo(json.dumps(result, indent=2, sort_keys=True) if self.as_json else text)


def start(options: dict[str, Any], config: bool = True) -> Run:
    """Set up logging (--quiet, --verbose) and, for a command with config options, resolve
    the config (--config, --set, dedicated options, --print-config)."""
    quiet, as_json = options.pop("quiet"), options.pop("as_json")
    setup_logging(quiet, options.pop("verbose"))
    if not config:
        return Run(quiet, as_json, None)
    path, assignments = options.pop("config_path"), options.pop("assignments")
    return Run(quiet, as_json, resolve_config(path, assignments, options, as_json))


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


_verbose = False  # -v was given: a bug shows its traceback


def setup_logging(quiet: bool, verbose: bool) -> None:
    global _verbose
    _verbose = _verbose or verbose
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    for library in QUIET_LIBRARIES:  # their INFO lines say nothing a user acts on
        logging.getLogger(library).setLevel(max(level, logging.WARNING))


# The object stores' clients, which log every credential lookup and retry at INFO.
QUIET_LIBRARIES = ("botocore", "aiobotocore", "boto3", "s3fs", "gcsfs", "adlfs", "azure", "fsspec")


class StopsCleanly(click.Group):
    """The error boundary of a command group: whatever ends a command ends it in one line on
    stderr and a documented exit code, never a traceback.

    - SIGINT and SIGTERM: 130 or 143 and how to go on (not Click's "Aborted!" and 1, nor a
      process killed where it stood);
    - a `UserError` (a bad config, a missing or damaged file, a locked folder): its message
      and its exit code (1, 2 for usage and config, 75 for a locked folder);
    - the system refusing a read or write (`OSError`: a full disk, no permission): 1;
    - anything else is a bug: one line and exit 1, its traceback with -v.
    """

    stop_hint = "run the same command to continue"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("help_option_names", ["-h", "--help"])
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, options_after_first_command(args, self.commands))

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except NO_ARGS_IS_HELP:
            raise  # `llm-data` alone: its help, as Click prints it
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        global _verbose
        _verbose = False  # until a command's setup_logging reads its -v
        with stops_raise():
            try:
                return super().invoke(ctx)
            except click.UsageError as exc:
                raise OneLineUsageError(exc) from None
            except KeyboardInterrupt as exc:
                signum = signal_number(exc)
                click.echo(f"stopped by {signal.Signals(signum).name}; {self.stop_hint}", err=True)
                ctx.exit(exit_code(signum))
            except UserError as exc:
                fail(ctx, str(exc), exc.exit_code)
            except OSError as exc:
                where = f"{exc.filename}: " if exc.filename else ""
                fail(ctx, f"{where}{exc.strerror or exc}", 1)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as exc:
                if _verbose:
                    raise
                bug = f"internal error: {type(exc).__name__}: {exc} (run with -v for details)"
                fail(ctx, bug, 1)


class OneLineUsageError(click.ClickException):
    """Click's usage error as one line (`Error: No such option: --x (see 'llm-data extract
    --help')`), exit code 2: Click's own form spreads it over four lines."""

    exit_code = 2

    def __init__(self, error: click.UsageError) -> None:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        super().__init__(f"{error.format_message()}{hint}")


def fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    """End the command: `Error: MESSAGE` as one line on stderr, exit code `code`."""
    click.echo(f"Error: {for_console(' '.join(message.split()), lines=False)}", err=True)
    ctx.exit(code)


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
        args = options_after_first_command(args, self.commands)
        args = spread_values(args, self.multi_value_options, self.commands)
        ctx.meta[IN_CHAIN] = chained_stages(args, self.commands, self.chain_folders)
        return super().parse_args(ctx, expand_chain(args, self.commands, self.chain_folders))


GROUP_OPTIONS = {"--help", "-h", "--version"}


def options_after_first_command(
    args: list[str], commands: Mapping[str, click.Command]
) -> list[str]:
    """`llm-data -q extract ...` as `llm-data extract -q ...`: options before the first command
    are the command's (the group has none but help and version), and in a chain they then
    apply to every stage as the run options after it do. The value of an option that takes
    one is skipped (`--output filter extract`: `filter` is a folder, not the command); a
    leading `--`, a help or version option, or anything else unexpected leaves `args` as they
    are, for Click to judge."""
    position = 0
    while position < len(args) and args[position] not in commands:
        arg = args[position]
        if arg == "--" or not arg.startswith("-") or arg.split("=", 1)[0] in GROUP_OPTIONS:
            return args
        has_value = any(takes_value(command, arg) for command in commands.values())
        position += 2 if has_value else 1
    if position == 0 or position >= len(args):
        return args
    return [args[position], *args[:position], *args[position + 1 :]]


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


# Commands that use every section, though their options cover only some.
ALL_SECTIONS = ("refresh",)


def config_sections(ctx: click.Context) -> list[str] | None:
    """The config sections a command (or every stage of its chain) reads; None for all."""
    if ctx.info_name in ALL_SECTIONS:
        return None
    group = ctx.parent.command if ctx.parent else None
    names = (ctx.meta.get(IN_CHAIN) or [ctx.info_name]) if group else [ctx.info_name]
    commands = [group.commands[name] for name in names] if group else [ctx.command]
    return sorted(
        {
            param.name.split("__")[1]
            for command in commands
            for param in command.params
            if param.name and param.name.startswith(PREFIX)
        }
    )


def config_text(config: BaseModel, sections: Iterable[str] | None, as_json: bool) -> str:
    """The config for --print-config: YAML with descriptions, or with --json plain JSON."""
    if not as_json:
        return config_yaml(config, sections)
    values = config.model_dump(mode="json")
    if sections is not None:
        values = {name: values[name] for name in sections}
    return json.dumps(values, indent=2, sort_keys=True) + "\n"


def config_yaml(config: BaseModel, sections: Iterable[str] | None = None) -> str:
    """`config` as YAML that loads back into it, each key under a comment with its
    description (`sections`: only these top-level keys)."""
    lines: list[str] = []
    _yaml_lines(config, lines, "", set(sections) if sections is not None else None)
    return "\n".join(lines) + "\n"


def _yaml_lines(model: BaseModel, lines: list[str], indent: str, only: set[str] | None) -> None:
    for name, info in type(model).model_fields.items():
        if only is not None and name not in only:
            continue
        value = getattr(model, name)
        if info.description:
            lines.append(f"{indent}# {' '.join(info.description.split())}")
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:")
            _yaml_lines(value, lines, indent + "  ", None)
        else:
            plain = model.model_dump(mode="json", include={name})[name]  # nested sections too
            dumped = yaml.safe_dump(plain, default_flow_style=True, width=10**6).strip()
            dumped = dumped.removesuffix("\n...").strip()
            if load_yaml(dumped) != plain:  # `1e3` is a number to our loader, not to PyYAML's
                dumped = json.dumps(plain, ensure_ascii=False)
            lines.append(f"{indent}{name}: {dumped}")


class ConfigHelp(click.Command):
    """Help with the common options first: options of config subsections (a filter step's,
    `extract.html`'s) are listed as one line per subsection; `--help-all` shows them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["--help-all"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_show_all_help,
                help="Show every option, those of each config subsection too, and exit.",
            )
        )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """With --print-config nothing runs: --input and --output need not be given."""
        if "--print-config" not in args:
            return super().parse_args(ctx, args)
        required = [param for param in self.params if param.required]
        for param in required:
            param.required = False
        try:
            return super().parse_args(ctx, args)
        finally:
            for param in required:
                param.required = True

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        common: list[tuple[str, str]] = []
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            parts = (param.name or "").split("__")
            if param.name and param.name.startswith(PREFIX) and len(parts) > 3:
                sections.setdefault(".".join(parts[1:-1]), []).append(record)
            else:
                common.append(record)
        with formatter.section("Options"):
            formatter.write_dl(common)
        if ctx.meta.get("help_all"):
            for name, records in sections.items():
                with formatter.section(f"Options of {name}"):
                    formatter.write_dl(records)
            return
        if sections:
            with formatter.section("More options (--help-all shows them)"):
                formatter.write_dl(
                    [(name, f"{len(records)} options") for name, records in sections.items()]
                )


def _show_all_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        ctx.meta["help_all"] = True
        click.echo(ctx.get_help())
        ctx.exit(0)


def dataset_output_options(command: Callable) -> Callable:
    """--output and --overwrite, the same on every stage that writes a dataset."""
    command = click.option(
        "--overwrite", is_flag=True, help="Replace a dataset already in --output made differently."
    )(command)
    return click.option(
        "--output",
        "-o",
        required=True,
        type=Location(file_okay=False, path_type=Path),
        help="Dataset folder to write (created if missing), or an object-store URL "
        "(s3://bucket/corpus/extracted; not for tokenize).",
    )(command)


def dataset_input_option(help_text: str) -> Callable[[Callable], Callable]:
    """--input for the stages that read a dataset folder."""
    return click.option(
        "--input",
        "-i",
        "input_dir",
        required=True,
        # Not checked here: in a chain it is written by the stage before, after parsing.
        type=Location(file_okay=False, path_type=Path),
        help=help_text,
    )


class LastInChain(click.Command):
    """A command with an argument that takes its options after it too (`status DIR --json`).

    Click parses the commands of a chain with options first; this one reads all that follows
    it, so nothing chains after it.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.allow_interspersed_args = True
        return super().parse_args(ctx, args)
