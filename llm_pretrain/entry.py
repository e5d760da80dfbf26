"""The programs' entry points: `llm-data`, `llm-train` and their `python -m` forms.

Importing the commands takes about a second (torch, pyarrow); a Ctrl-C in that second would
print a KeyboardInterrupt traceback before the commands' own error boundary exists. Here it
ends the program the way a stopped command does: one line and exit code 130."""

from __future__ import annotations

import sys


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
    group()
