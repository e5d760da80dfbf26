"""Documents for the filter steps' tests: only what a test sets, the rest as extract leaves it."""

from __future__ import annotations

from typing import Any

from llm_pretrain.pipeline.documents import Document


def doc_of(id: str = "x", text: str = "", **fields: Any) -> Document:
    """A document of plain text from a test's input."""
    return Document(id=id, text=text, source="test.txt", format="text", **fields)
