"""The filter benchmark's documents: real text found on this machine (`corpus_local`) cut into
pieces of 2-6 KB, English and 13 other languages, generated text, and perturbed copies of the
English pieces that make every rule of every rule set fire (repeated lines, bullets, symbols,
web boilerplate...). Deterministic for a seed and a machine; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus_local import (
    doc_files,
    licence_files,
    locale_catalogs,
    man_pages,
    mo_messages,
    package_descriptions,
    read_text,
    roff_to_text,
    stdlib_docs,
    stdlib_modules,
)

MIN_CHARS, MAX_CHARS = 2000, 6000
NON_ENGLISH = ("fr", "de", "es", "it", "pt_BR", "nl", "sv", "pl", "ru", "uk", "ja", "zh_CN", "ko")


def cut(text: str, rng: random.Random, limit: int = 3) -> list[str]:
    """At most `limit` pieces of 2-6 KB cut at line ends (an overlong line at a space)."""
    pieces: list[str] = []
    lines: list[str] = []
    size, target = 0, rng.randint(MIN_CHARS, MAX_CHARS)
    for line in text.split("\n"):
        while len(line) > MAX_CHARS:  # one huge paragraph: cut it at a space
            at = line.rfind(" ", 0, MAX_CHARS // 2) + 1 or MAX_CHARS // 2
            lines.append(line[:at])
            line = line[at:]
        lines.append(line)
        size += len(line) + 1
        if size >= target:
            piece = "\n".join(lines).strip()
            if MIN_CHARS <= len(piece) <= MAX_CHARS:
                pieces.append(piece)
            if len(pieces) >= limit:
                break
            lines, size, target = [], 0, rng.randint(MIN_CHARS, MAX_CHARS)
    return pieces


# --- generated text and perturbed copies -----------------------------------------------------


def generated_text(rng: random.Random) -> str:
    """llm_pretrain.samples' grammar: fluent English with a tiny vocabulary (repetitive)."""
    from llm_pretrain import samples

    separator = rng.choice(["\n", "\n\n"])
    paragraphs = [samples.paragraph(rng, rng.randint(2, 7)) for _ in range(rng.randint(3, 10))]
    return separator.join(paragraphs)


def _lines_changed(text: str, rng: random.Random, change: Callable[[str], str]) -> str:
    """A random share of the lines changed."""
    share = rng.random()
    return "\n".join(change(line) if rng.random() < share else line for line in text.split("\n"))


def _repeat_lines(text: str, rng: random.Random) -> str:
    """Copies of random lines at random places (Gopher's repetition rules)."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, max(1, len(lines) // 2))):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
    return "\n".join(lines)


def _repeat_paragraphs(text: str, rng: random.Random) -> str:
    """Copies of random paragraphs at random places."""
    paragraphs = text.split("\n\n") if "\n\n" in text else text.split("\n")
    joiner = "\n\n" if "\n\n" in text else "\n"
    for _ in range(rng.randint(1, 4)):
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), rng.choice(paragraphs))
    return joiner.join(paragraphs)


def _repeat_phrase(text: str, rng: random.Random) -> str:
    """One phrase of 2-12 words repeated up to 15 times (the n-gram rules)."""
    words = text.split(" ")
    size = rng.randint(2, 12)
    start = rng.randrange(max(1, len(words) - size))
    phrase = words[start : start + size]
    for _ in range(rng.randint(1, 15)):
        at = rng.randrange(len(words) + 1)
        words[at:at] = phrase
    return " ".join(words)


def _bullets(text: str, rng: random.Random) -> str:
    """Lines turned into bullet points."""
    mark = rng.choice(["• ", "- ", "* ", "  - "])
    return _lines_changed(text, rng, lambda line: mark + line)


def _ellipses(text: str, rng: random.Random) -> str:
    """Lines ending in an ellipsis."""
    mark = rng.choice(["...", "…", " ..."])
    return _lines_changed(text, rng, lambda line: line.rstrip(".") + mark)


def _symbols(text: str, rng: random.Random) -> str:
    """Hashtags, numbers, prices and emoticons in place of words."""
    share = rng.random() * 0.4
    kinds = [
        lambda w: "#" + w,
        lambda w: str(rng.randint(0, 99999)),
        lambda w: f"{rng.randint(1, 99)}.{rng.randint(0, 99)}%",
        lambda w: f"${rng.randint(1, 999)}",
        lambda w: rng.choice([":)", "->", "|", "&", "=", "§"]),
    ]
    kind = rng.choice(kinds)
    return " ".join(kind(w) if w and rng.random() < share else w for w in text.split(" "))


def _navigation(text: str, rng: random.Random) -> str:
    """Short menu and footer lines, without terminal punctuation."""
    menu = ["Home", "About us", "Contact", "Blog", "Products", "Sign in", "Share", "Next page"]
    lines = text.split("\n")
    for _ in range(rng.randint(3, 40)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(menu))
    return "\n".join(lines)


def _web_boilerplate(text: str, rng: random.Random) -> str:
    """The lines C4's rules look for: cookies, JavaScript, policies, lorem ipsum, code."""
    extras = [
        "This website uses cookies to improve your experience.",
        "Please enable JavaScript in your browser to view this page.",
        "By using this site you agree to our Terms of Use and Privacy Policy.",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "function init() { return window.location.href; }",
        "See the notes [1] and the discussion [citation needed].",
        "Read more...",
    ]
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(extras))
    return "\n".join(lines)


def _word_list(text: str, rng: random.Random) -> str:
    """Part of the text one word per line, as in a tag cloud or a table column."""
    words = text.split()
    start = rng.randrange(max(1, len(words) - 20))
    end = start + rng.randint(20, 200)
    return (
        " ".join(words[:start]) + "\n" + "\n".join(words[start:end]) + "\n" + " ".join(words[end:])
    )


def _contractions(text: str, rng: random.Random) -> str:
    """Informal English: contractions, hyphenated compounds, 's (word splitting differs)."""
    pairs = [
        ("do not", "don't"), ("is not", "isn't"), ("it is", "it's"), ("cannot", "can't"),
        ("you are", "you're"), ("we will", "we'll"), ("that is", "that's"), ("I am", "I'm"),
        ("does not", "doesn't"), ("will not", "won't"), ("they have", "they've"),
    ]  # fmt: skip
    swaps = {f" {plain} ": f" {short} " for plain, short in pairs}
    for plain, short in swaps.items():
        text = text.replace(plain, short)
    words = text.split(" ")
    share = rng.random() * 0.3
    for i in range(len(words) - 1):
        if words[i].isalpha() and words[i + 1].isalpha() and rng.random() < share:
            words[i] = f"{words[i]}-{words[i + 1]}"
            words[i + 1] = ""
    return " ".join(w for w in words if w)


def _truncate(text: str, rng: random.Random) -> str:
    """The first 20-120 words only (the length rules)."""
    return " ".join(text.split()[: rng.randint(20, 120)])


def _upper(text: str, rng: random.Random) -> str:
    """All in capitals."""
    return text.upper()


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "repeated lines": _repeat_lines,
    "repeated paragraphs": _repeat_paragraphs,
    "repeated phrase": _repeat_phrase,
    "bullets": _bullets,
    "ellipses": _ellipses,
    "symbols/numbers": _symbols,
    "navigation lines": _navigation,
    "web boilerplate": _web_boilerplate,
    "word list": _word_list,
    "contractions/hyphens": _contractions,
    "truncated": _truncate,
    "upper case": _upper,
}


# --- assembling the corpus -------------------------------------------------------------------


@dataclass
class Source:
    """One part of the corpus: a share of the documents and how to get texts for it."""

    kind: str
    share: float
    texts: Callable[[random.Random], Iterator[str]]


def _files_as_texts(
    paths: list[Path], read: Callable[[Path], str]
) -> Callable[[random.Random], Iterator[str]]:
    """Texts of the files in a seeded random order (so that a share samples all of them)."""

    def texts(rng: random.Random) -> Iterator[str]:
        order = list(paths)
        rng.shuffle(order)
        for path in order:
            try:
                yield read(path)
            except OSError:
                continue

    return texts


def _non_english_man(rng: random.Random) -> Iterator[str]:
    """Translated man pages, as text."""
    paths = [path for language in NON_ENGLISH for path in man_pages(language)]
    yield from _files_as_texts(paths, lambda p: roff_to_text(read_text(p)))(rng)


def _non_english_catalogs(rng: random.Random) -> Iterator[str]:
    """The messages of translated gettext catalogs, one a line."""
    paths = [path for language in NON_ENGLISH for path in locale_catalogs(language)]
    yield from _files_as_texts(paths, lambda p: "\n".join(mo_messages(p)))(rng)


def _descriptions(rng: random.Random) -> Iterator[str]:
    """Package READMEs in a seeded random order."""
    items = [text for _, text in package_descriptions()]
    rng.shuffle(items)
    yield from items


def _generated(rng: random.Random) -> Iterator[str]:
    """Generated English without end."""
    while True:
        yield generated_text(rng)


def sources() -> list[Source]:
    """The parts of the corpus, the scarce ones first: a part that runs short hands its
    shortfall on to the next. Perturbed copies fill what is left after the last."""
    man = _files_as_texts(man_pages(None), lambda p: roff_to_text(read_text(p)))
    return [
        Source("en: package descriptions", 0.05, _descriptions),
        Source("en: stdlib docstrings", 0.05, _files_as_texts(stdlib_modules(), stdlib_docs)),
        Source("en: licences", 0.06, _files_as_texts(licence_files(), read_text)),
        Source("en: /usr/share/doc", 0.10, _files_as_texts(doc_files(), read_text)),
        Source("other: man pages", 0.06, _non_english_man),
        Source("other: gettext catalogs", 0.04, _non_english_catalogs),
        Source("en: man pages", 0.30, man),
        Source("generated (llm_pretrain.samples)", 0.08, _generated),
    ]


@dataclass
class Corpus:
    """The documents so far and the corpus part of each; copies are left out."""

    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, text: str, kind: str) -> bool:
        """Add a text unless it is a copy or too short; whether it was added."""
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest in self.seen or len(text.strip()) < 100:
            return False
        self.seen.add(digest)
        self.texts.append(text)
        self.kinds.append(kind)
        return True


def build_corpus(docs: int, seed: int = 0) -> Corpus:
    """`docs` documents: each source's share of real or generated text, cut into 2-6 KB
    pieces (at most 3 per file), then perturbed copies of random English ones."""
    rng = random.Random(seed)
    corpus = Corpus()
    shortfall = 0
    for source in sources():
        wanted, added = round(docs * source.share) + shortfall, 0
        for text in source.texts(rng):
            for piece in cut(text, rng):
                added += corpus.add(piece, source.kind)
                if added >= wanted:
                    break
            if added >= wanted:
                break
        shortfall = wanted - added
    english = [t for t, k in zip(corpus.texts, corpus.kinds, strict=True) if k.startswith("en")]
    names = sorted(PERTURBATIONS)
    while len(corpus.texts) < docs and english:
        name = rng.choice(names)
        corpus.add(PERTURBATIONS[name](rng.choice(english), rng), f"perturbed: {name}")
    return corpus


def write_corpus(corpus: Corpus, path: Path) -> None:
    """The documents as JSONL, {"text", "kind"}: the input of `run_extract`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for text, kind in zip(corpus.texts, corpus.kinds, strict=True):
            out.write(json.dumps({"text": text, "kind": kind}) + "\n")
