"""Lines and paragraphs as the rule sets see them (words: `english_words`)."""

from __future__ import annotations

import re


def lines(text: str) -> list[str]:
    """Non-empty lines, stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, stripped."""
    return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
