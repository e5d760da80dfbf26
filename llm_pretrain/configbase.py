"""The base of every config section, apart from `config.py` so that stage modules can define
their own sections without importing the whole pipeline config (and without import cycles)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


class Section(BaseModel):
    """Base of every config section: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)
