"""The error a stage reports to the user (one line), in a module every layer can import."""

from __future__ import annotations

from llm_pretrain.errors import UserError


class StageError(UserError, RuntimeError):
    """A stage could not finish; the message is one line for the user."""


class DamagedFile(StageError, ValueError):
    """A file of the tool's own (a manifest, a state, a record) that does not parse: cut short,
    edited, or not what its name says. A ValueError too, for callers that treat it so."""
