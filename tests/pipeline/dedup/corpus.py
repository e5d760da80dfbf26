"""A small corpus with planted duplicates of known kinds, written as JSONL inputs."""

from __future__ import annotations

import json
import random
from pathlib import Path

from llm_pretrain.samples import paragraph

# Shared by every document: boilerplate must not make unrelated pages duplicates.
FOOTER = (
    "Subscribe to our newsletter for weekly updates from the newsroom.\n"
    "Copyright 2024 The Example Gazette. All rights reserved.\n"
    "Contact the editors at the address on our about page."
)


def original(index: int, paragraphs: int = 6) -> str:
    rng = random.Random(f"dedup-{index}")
    return "\n\n".join(paragraph(rng, 5) for _ in range(paragraphs)) + "\n\n" + FOOTER


def whitespace_changed(text: str) -> str:
    return "  " + text.replace(" ", "   ").replace("\n\n", "\n \n") + "\n"


def paragraph_inserted(text: str, seed: int) -> str:
    parts = text.split("\n\n")
    parts.insert(3, paragraph(random.Random(f"insert-{seed}"), 2))
    return "\n\n".join(parts)


def words_changed(text: str, count: int, seed: int) -> str:
    words = text.split(" ")
    rng = random.Random(f"change-{seed}")
    for position in rng.sample(range(len(words)), count):
        words[position] = "zebra"
    return " ".join(words)


def write_jsonl(folder: Path, documents: dict[str, str], per_file: int = 5) -> None:
    """Documents in order, `per_file` to a file; the URL carries the name."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(documents)
    for start in range(0, len(names), per_file):
        rows = [
            {"text": documents[name], "url": f"https://example.org/{name}"}
            for name in names[start : start + per_file]
        ]
        path = folder / f"part-{start // per_file:03d}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
