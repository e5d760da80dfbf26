"""What an HTML engine gives back for a page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PageText:
    text: str
    title: str | None
    author: str | None
    date: str | None  # YYYY-MM-DD
    sitename: str | None
