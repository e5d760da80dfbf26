"""Text measures shared by the rule sets: words, lines, paragraphs.

Words are split on whitespace and stripped of surrounding punctuation, the way the Gopher
paper (Rae et al. 2021, appendix A) counts them; a regex is 10-50x faster than the spaCy or
NLTK tokenizers datatrove uses, at the price of small differences on contractions and
hyphenated words (see benchmarks/filter.py for the measured agreement).
"""

from __future__ import annotations

import re
import string

PUNCTUATION = frozenset(string.punctuation + "“”‘’«»„‚…–—·•¡¿、。，．！？：；")
_SPACE = re.compile(r"\s+")


def words(text: str) -> list[str]:
    """Whitespace-separated tokens with leading/trailing punctuation stripped; empty dropped."""
    stripped = (token.strip(string.punctuation + "“”‘’«»„‚…–—") for token in _SPACE.split(text))
    return [token for token in stripped if token]


def lines(text: str) -> list[str]:
    """Non-empty lines, stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, stripped."""
    return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]

