"""The error a stage reports to the user (one line), in a module every layer can import."""

from __future__ import annotations


class StageError(RuntimeError):
    """A stage could not finish; the message is one line for the user."""
