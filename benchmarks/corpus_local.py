"""Real text found on this machine, read without downloading anything: man pages (a small roff
reader), package READMEs, licences, notes under /usr/share/doc, stdlib docstrings and sources,
translated gettext catalogs. The filter and tokenize benchmarks make their corpora of it, so
that their text is real and yet on every machine.
"""

from __future__ import annotations

import email.parser
import gzip
import re
import struct
import sys
import sysconfig
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

DOCUMENT_MAX_BYTES = 64_000  # the tokenize benchmark's documents


def read_text(path: Path) -> str:
    """A text file, gunzipped if need be; undecodable bytes replaced."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return ""
    return raw.decode("utf-8", errors="replace")


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
    """What one roff escape stands for in the text: a glyph, a character or nothing."""
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
    """A line of roff with its escapes (fonts, sizes, glyphs) resolved."""
    return _ROFF_ESCAPE.sub(_roff_escape, text).replace("  ", " ")


def roff_args(rest: str) -> list[str]:
    """A macro's arguments, quoted ones kept whole."""
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
    """Licence texts: the common licences, Debian copyright files, the packages' licences."""
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
    """The standard library's modules, its tests left out."""
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
    """The compiled gettext catalogs of one language."""
    return sorted(Path("/usr/share/locale", language, "LC_MESSAGES").glob("*.mo"))


# --- the tokenize benchmark's text: stdlib sources, changelogs, copyright files -------------


def tokenizer_texts() -> list[tuple[str, str]]:
    """(kind, text) of the tokenize benchmark's files: stdlib sources, changelogs and copyright
    files, read whole (universal newlines), in a fixed order."""
    found: list[tuple[str, str]] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" not in path.parts:
            found.append(("python source", path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted(Path("/usr/share/doc").rglob("*")):
        if path.name.startswith("changelog") and path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                found.append(("changelog", handle.read()))
        elif path.name == "copyright" and path.is_file():
            found.append(("copyright", path.read_text(encoding="utf-8", errors="replace")))
    return found


def tokenizer_documents(limit_bytes: int) -> tuple[list[str], dict[str, int]]:
    """Documents of at most DOCUMENT_MAX_BYTES cut at line ends, interleaving the kinds, until
    `limit_bytes`; and the bytes of each kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, text in tokenizer_texts():
        pieces, current, size = by_kind.setdefault(kind, []), [], 0
        for line in text.splitlines(keepends=True):
            current.append(line)
            size += len(line.encode("utf-8"))
            if size >= DOCUMENT_MAX_BYTES:
                pieces.append("".join(current))
                current, size = [], 0
        if current and "".join(current).strip():
            pieces.append("".join(current))
    chosen, makeup, total = [], dict.fromkeys(by_kind, 0), 0
    queues = {kind: iter(pieces) for kind, pieces in by_kind.items()}
    while queues and total < limit_bytes:
        for kind in list(queues):
            text = next(queues[kind], None)
            if text is None:
                del queues[kind]
                continue
            size = len(text.encode("utf-8"))
            chosen.append(text)
            makeup[kind] += size
            total += size
    return chosen, makeup
