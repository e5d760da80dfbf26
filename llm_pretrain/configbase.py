"""The base of every config section, apart from `config.py` so that stage modules can define
their own sections without importing the whole pipeline config (and without import cycles)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from llm_pretrain.errors import UsageError

# The longest time limit a setting takes (30 days): more overflows the timers it arms.
MAX_TIMEOUT_S = 30 * 86400.0


class ConfigError(UsageError, ValueError):
    """A configuration file or override that does not fit the schema."""


class Section(BaseModel):
    """Base of every config section: unknown keys and wrong types are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=True, allow_inf_nan=False
    )


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `3e-4` (no dot) as a string; YAML 1.2 and every user read a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[0-9][0-9_]*[eE][-+]?[0-9]+
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Safe YAML with numbers as a user writes them (`1e-3` is a float)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that must hold a mapping; unreadable or malformed files are ConfigErrors."""
    if Path(path).exists() and not Path(path).is_file():  # a FIFO or a device never ends
        raise ConfigError(f"{what} {path} is not a regular file")
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping")
    return data


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (`extract.html.mode`) in a nested mapping, creating sections as needed."""
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{dotted}: '{key}' is a value, not a section")
            node = child
        node[leaf] = value
    return data


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse `key.path=value` (`--set`, or a KEY=VALUE of llm-train); the value is read as
    YAML (1, true, 0.5, [a, b])."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise ConfigError(f"{text}: the value is not valid YAML ({problem})") from None


def _section_of(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the key at `path` (its parent), or None past a non-model field."""
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _unknown_key(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """`unknown key`, with the closest known key of its section when one is close."""
    section = _section_of(model, loc[:-1])
    if section is None:
        return "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    if not close:
        return f"unknown key (known here: {', '.join(section.model_fields)})"
    return f"unknown key; did you mean {'.'.join(map(str, (*loc[:-1], close[0])))}?"


def validate(
    model: type[BaseModel],
    data: dict[str, Any],
    path: Path | None = None,
    given: dict[str, str] | None = None,
    what: str = "config",
) -> Any:
    """`model` validated from `data`, or a ConfigError naming each problem as the user gave
    it: the flag (`--workers`), or the key of the file or the override."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "<root>"
            if err["type"] == "extra_forbidden":
                text = _unknown_key(model, err["loc"])
            else:
                text = f"{err['msg']} (got {err.get('input')!r})"
            name = (given or {}).get(key) or (f"{what} {path}: {key}" if path else key)
            problems.append(f"{name}: {text}")
        raise ConfigError("; ".join(problems)) from None
