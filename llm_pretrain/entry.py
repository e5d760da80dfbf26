"""The programs' entry points: `llm-data`, `llm-train` and their `python -m` forms.

Importing the commands takes about a second (torch, pyarrow); a Ctrl-C in that second would
print a KeyboardInterrupt traceback before the commands' own error boundary exists. Here it
ends the program the way a stopped command does: one line and exit code 130."""

from __future__ import annotations

import logging
import os
import sys

from llm_pretrain.train.ranks import launched


def _stopped_while_starting() -> None:
    print("stopped by SIGINT while starting; nothing was done", file=sys.stderr)
    sys.exit(130)


def data() -> None:
    try:
        from llm_pretrain.cli import data as group
    except KeyboardInterrupt:
        _stopped_while_starting()
    group()


def train() -> None:
    try:
        from llm_pretrain.cli_train import train as group
    except KeyboardInterrupt:
        _stopped_while_starting()
    if not launched():
        group()
        return
    try:
        group()
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


def _leave(code: int | str | None) -> None:
    """Under torchrun, end the process without the interpreter's teardown, once the command is
    done (its checkpoint, metrics and summary written, its process group destroyed). At
    teardown a thread of torch's C++ side (gloo, the rendezvous store) was still joinable when
    its destructor ran, and the process aborted with SIGABRT ("terminate called without an
    active exception"), so that torchrun reported a finished run as failed: about 1 run in 12
    of 2 processes on a loaded machine (tests/train/test_processes.py)."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()  # flush every handler: os._exit skips the atexit hooks that would
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
