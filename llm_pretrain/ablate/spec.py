"""What an ablation compares: its variants (document datasets, or a dry-run filter output with
rules lifted) and its eval sets, as `NAME=PATH` on the command line."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from llm_pretrain.errors import UsageError, UserError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
WITHOUT = ":without="
_SCALES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}


class AblationError(UserError, ValueError):
    """An ablation that cannot start or go on, with a message for the user."""


class AblationUsage(UsageError, ValueError):
    """A command line the ablation cannot be read from (exit code 2, as Click's own)."""


@dataclass(frozen=True)
class VariantSpec:
    """A variant: the dataset at `path`. `without` is set for a `--dry-run` filter output: the
    documents the filter would keep with these rules (or steps) lifted; empty lifts none."""

    name: str
    path: Path
    without: tuple[str, ...] | None = None

    def describe(self) -> str:
        lifted = f"{WITHOUT}{','.join(self.without)}" if self.without else ""
        return f"{self.path}{lifted}"


@dataclass(frozen=True)
class EvalSpec:
    """An eval set: a document dataset, or a folder or file of .txt/.md/.jsonl documents."""

    name: str
    path: Path


def _name_and_path(text: str, option: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise AblationUsage(f"{option} {text!r}: give NAME=PATH")
    if not _NAME.fullmatch(name):
        raise AblationUsage(
            f"{option} {text!r}: a name is letters, digits and _.+- (at most 64), not {name!r}"
        )
    return name, path


def parse_variant(text: str) -> VariantSpec:
    """`NAME=PATH`, or `NAME=PATH:without=RULE[,RULE...]` for a dry-run filter output."""
    name, path = _name_and_path(text, "--variant")
    path, sep, rules = path.rpartition(WITHOUT) if WITHOUT in path else (path, "", "")
    if not sep:
        return VariantSpec(name, Path(path))
    lifted = tuple(rule.strip() for rule in rules.split(",") if rule.strip())
    if not lifted or not path:
        raise AblationUsage(f"--variant {text!r}: give PATH{WITHOUT}RULE[,RULE...]")
    return VariantSpec(name, Path(path), lifted)


def parse_eval(text: str) -> EvalSpec:
    name, path = _name_and_path(text, "--eval")
    return EvalSpec(name, Path(path))


def unique(names: list[str], option: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise AblationUsage(f"two {option}s are named {name!r}")
        seen.add(name)


def parse_tokens(text: str) -> int:
    """A token count as people write it: 20M, 2.5B, 500K, 1e6, 3000000."""
    cleaned = text.strip().upper().replace("_", "").replace(",", "")
    scale = _SCALES.get(cleaned[-1:]) if cleaned[-1:].isalpha() else 1
    number = cleaned[:-1] if cleaned[-1:].isalpha() else cleaned
    try:
        value = float(number) * (scale or 0)
    except ValueError:
        value = 0.0
    if not scale or not math.isfinite(value) or value < 1:
        raise AblationUsage(f"--tokens {text!r}: give a count such as 20M, 2.5B or 3000000")
    return int(value)
