"""The root of every error a user can cause and fix (a bad config, a missing path, a damaged
dataset, a locked folder...). The command line turns one into a single line on stderr and its
exit code; any other exception is a bug and shows its traceback (with -v).

A module of its own, importing nothing of the project, so that every layer can raise these."""

from __future__ import annotations

import os
from pathlib import Path

EX_USAGE = 2  # a usage or config error, as Click's own usage errors
EX_TEMPFAIL = 75  # sysexits.h: try again later


class UserError(Exception):
    """Something the user can cause and fix; the message is one line for them."""

    exit_code = 1


class UsageError(UserError):
    """A command line or config the tool cannot run with (exit code 2)."""

    exit_code = EX_USAGE


class NotFound(UsageError):
    """A path the command line names is not there."""


def must_exist(path: Path, what: str) -> None:
    """Raise NotFound ("WHAT PATH does not exist") unless `path` is there (a dangling link
    counts as there: what reads it says what is wrong with it)."""
    if not os.path.lexists(path):
        raise NotFound(f"{what} {path} does not exist")


class StageError(UserError, RuntimeError):
    """A stage could not finish; the message is one line for the user."""


class DamagedFile(StageError, ValueError):
    """A file of the tool's own (a manifest, a state, a record) that does not parse: cut short,
    edited, or not what its name says. A ValueError too, for callers that treat it so."""
