"""The demo's crawl, built offline from real text that every Python installation carries.

Text: the language-reference topics `pydoc` shows (`pydoc_data.topics`) and the docstrings of
the standard library's modules, read from their source with `ast` (nothing is imported or
run). It is dressed as a documentation site crawled the way a user's crawler would leave it:

- pages with navigation, cookie banner, sidebar and footer, in a WARC with request records,
  a 404, an image and a redirect; some loose pages; some topics printed as PDFs;
- a mirror site serving the same pages with light edits (near duplicates) and pages served
  under two URLs (exact duplicates);
- pages in German, French and Spanish (written for this demo), contact lines with e-mail
  addresses, phone numbers and IP addresses (PII), and a page with a spam comment whose words
  are on the blocklist;
- a second delivery, a week later: new modules, a copy of a page already in the corpus.

Everything is deterministic (fixed WARC record ids and dates), so two builds give the same
files on the same Python version.
"""

from __future__ import annotations

import ast
import html
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from llm_pretrain.samples import Article, write_pdf, write_warc

SITE = "https://docs.pyref.example.org"
MIRROR = "https://pyref-mirror.example.net"
MIN_MODULE_CHARS = 2500
PDF_PAGE_CHARS = 1500
MIRROR_WARC = "mirror-2025-10.warc.gz"
# Not documentation (`this`, `antigravity`), or tests and tools rather than the library.
SKIPPED_MODULES = {"this", "antigravity", "test", "tests", "idlelib", "lib2to3", "turtledemo"}
SKIPPED_MODULES |= {"ensurepip", "site-packages", "dist-packages"}

# Written for this demo (not translations of the documentation): pages the language step drops.
OTHER_LANGUAGES = {
    "de": (
        "Einführung in Python für Einsteiger",
        [
            "Python ist eine Programmiersprache, die viele Menschen als erste Sprache lernen. "
            "Der Code ist gut lesbar, weil Einrückungen die Struktur eines Programms zeigen und "
            "keine geschweiften Klammern nötig sind.",
            "In diesem Kurs schreiben wir kleine Programme, die Dateien lesen, Texte zählen und "
            "Ergebnisse in Tabellen ausgeben. Jede Lektion endet mit Übungen, die man zu Hause "
            "in einer Stunde lösen kann.",
            "Wer schon eine andere Sprache kennt, wird schnell merken, dass Listen, Wörterbücher "
            "und Schleifen in Python besonders einfach zu verwenden sind.",
        ],
    ),
    "fr": (
        "Bien débuter avec Python",
        [
            "Python est un langage de programmation apprécié pour sa syntaxe claire. Les blocs "
            "de code sont délimités par l'indentation, ce qui oblige à écrire des programmes "
            "lisibles dès le premier jour.",
            "Dans ce guide, nous installons l'interpréteur, nous écrivons un premier script et "
            "nous apprenons à utiliser les listes, les dictionnaires et les fonctions. Chaque "
            "chapitre se termine par quelques exercices corrigés.",
            "La bibliothèque standard offre des modules pour lire des fichiers, parler à des "
            "serveurs web ou calculer des statistiques sans rien installer de plus.",
        ],
    ),
    "es": (
        "Primeros pasos con Python",
        [
            "Python es un lenguaje de programación muy usado en la enseñanza, en la ciencia de "
            "datos y en la administración de sistemas. Su sintaxis sencilla permite centrarse "
            "en el problema y no en los detalles del lenguaje.",
            "En este curso aprenderemos a trabajar con cadenas de texto, listas y diccionarios, "
            "y escribiremos funciones pequeñas que se pueden probar una por una.",
            "Al final de cada lección hay ejercicios para practicar en casa, con soluciones "
            "comentadas para comprobar el resultado.",
        ],
    ),
}
SPAM_COMMENT = (
    "Great page, thanks! Visit my site for free xxx videos, nude pictures and cheap viagra "
    "delivered overnight to your door."
)


@dataclass(frozen=True)
class Doc:
    """One page of real text: plain-text blocks (paragraphs, headings, code)."""

    slug: str
    title: str
    blocks: list[tuple[str, str]]  # ("p" | "h2" | "pre", text)

    def text(self) -> str:
        return "\n\n".join(text for _, text in self.blocks)


def text_blocks(text: str) -> list[tuple[str, str]]:
    """Paragraphs, underlined headings and indented code of reStructuredText-like plain text."""
    blocks: list[tuple[str, str]] = []
    for chunk in text.split("\n\n"):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        underline = lines[-1].strip()
        if len(lines) == 2 and len(set(underline)) == 1 and underline[0] in "*=-~^":
            blocks.append(("h2", lines[0].strip()))
        elif all(line.startswith(" ") for line in lines):
            indent = min(len(line) - len(line.lstrip()) for line in lines)
            blocks.append(("pre", "\n".join(line[indent:] for line in lines)))
        else:
            blocks.append(("p", " ".join(line.strip() for line in lines)))
    return blocks


@cache
def reference_topics() -> tuple[Doc, ...]:
    """The language reference's topics, as `help("if")` shows them."""
    from pydoc_data.topics import topics

    docs = []
    for key in sorted(topics):
        blocks = text_blocks(topics[key])
        if blocks and blocks[0][0] == "h2":
            title, blocks = blocks[0][1], blocks[1:]
        else:
            title = key
        docs.append(Doc(f"reference/{key}", title, blocks))
    return tuple(docs)


@cache
def module_docs() -> tuple[Doc, ...]:
    """One page per standard-library module with enough documentation: the module's docstring,
    then each public class, method and function with its docstring."""
    library = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for path in sorted(library.rglob("*.py")):
        parts = path.relative_to(library).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or any(p.startswith("_") or p in SKIPPED_MODULES for p in parts):
            continue
        name = ".".join(parts)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        blocks = text_blocks(ast.get_docstring(tree) or "")
        for node, label in _documented(tree.body, name):
            blocks.append(("h2", label))
            blocks.extend(text_blocks(ast.get_docstring(node) or ""))
        if sum(len(text) for _, text in blocks) >= MIN_MODULE_CHARS:
            docs.append(Doc(f"library/{name}", f"{name}: standard library module", blocks))
    return tuple(docs)


def _documented(body: list[ast.stmt], prefix: str) -> list[tuple[ast.AST, str]]:
    """Public classes, their methods and functions that have a docstring, in source order."""
    found: list[tuple[ast.AST, str]] = []
    for node in body:
        if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("_"):
            continue
        if ast.get_docstring(node):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.append((node, f"{kind} {prefix}.{node.name}"))
        if isinstance(node, ast.ClassDef):
            found.extend(_documented(node.body, f"{prefix}.{node.name}"))
    return found


def _blocks_html(blocks: list[tuple[str, str]]) -> str:
    return "\n".join(f"<{tag}>{html.escape(text)}</{tag}>" for tag, text in blocks)


def page_html(doc: Doc, related: list[Doc], date: str, extra: list[str] | None = None) -> str:
    """The documentation site's page: the article among navigation, banner, sidebar, footer."""
    nav = "".join(
        f'<li><a href="/{part.lower()}/">{part}</a></li>'
        for part in ("Tutorial", "Library", "Reference", "Glossary", "Download", "Community")
    )
    links = "".join(
        f'<li><a href="/{d.slug}.html">{html.escape(d.title)}</a></li>' for d in related
    )
    more = "".join(f"<p>{html.escape(text)}</p>" for text in extra or [])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(doc.title)} | PyRef documentation</title>
<meta name="date" content="{date}"><meta name="author" content="PyRef documentation team">
<script>window.analytics = []; function track(event) {{ window.analytics.push(event); }}</script>
<style>body {{ font-family: serif; }} nav li {{ display: inline; margin: 0 1em; }}</style>
</head><body>
<div class="cookie-banner">This site uses cookies for analytics. Accept all cookies.</div>
<header><a class="logo" href="/">PyRef</a><nav><ul>{nav}</ul></nav>
<form class="search"><input placeholder="Search the documentation"></form></header>
<div class="breadcrumbs"><a href="/">Home</a> / <a href="/{doc.slug.split("/")[0]}/">
{doc.slug.split("/")[0].title()}</a> / {html.escape(doc.title)}</div>
<main><article>
<h1>{html.escape(doc.title)}</h1>
{_blocks_html(doc.blocks)}
{more}
</article>
<aside class="sidebar"><h3>Related pages</h3><ul>{links}</ul>
<div class="ad">Sponsored: try our hosted notebooks free for thirty days</div></aside></main>
<footer><p>Copyright 2001-2025 the PyRef authors. Text under the PSF licence.</p>
<ul><li><a href="/privacy.html">Privacy</a></li><li><a href="/bugs.html">Report a bug</a></li>
</ul></footer>
</body></html>"""


def mirror_html(doc: Doc, date: str) -> str:
    """The mirror's copy: its own layout, a line of its own, two words changed."""
    blocks = list(doc.blocks)
    first = next((i for i, (tag, _) in enumerate(blocks) if tag == "p"), None)
    if first is not None:
        blocks[first] = ("p", blocks[first][1].replace(" the ", " this ", 2))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(doc.title)} (mirror)</title>
</head><body><div id="top">Mirror of docs.pyref.example.org, updated nightly.
<a href="/">Mirror home</a> | <a href="/search">Search</a></div>
<div id="content"><h1>{html.escape(doc.title)}</h1>
{_blocks_html(blocks)}
<p>Mirrored on {date} from the original documentation.</p></div>
<div id="foot">Hosted by volunteers. <a href="/donate">Donate</a></div></body></html>"""


def contact_line(index: int) -> str:
    """Planted PII: an e-mail address, a phone number and an IP address."""
    return (
        f"Questions about this page? Write to maintainer{index}@pyref.example.org or call "
        f"(555) 201-{1000 + index:04d}; the page is served from 203.0.113.{index % 250 + 1}."
    )


def language_page(code: str) -> str:
    title, paragraphs = OTHER_LANGUAGES[code]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{code}"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><nav><a href='/'>Start</a></nav><article><h1>{title}</h1>{body}"
        "</article><footer>PyRef</footer></body></html>"
    )


def write_doc_pdf(path: Path, doc: Doc) -> None:
    """A printed topic: its text over as many pages as it needs (no text box overflows)."""
    pages: list[str] = []
    for _, text in doc.blocks:
        for start in range(0, len(text), PDF_PAGE_CHARS):
            piece = text[start : start + PDF_PAGE_CHARS]
            if pages and len(pages[-1]) + len(piece) + 2 <= PDF_PAGE_CHARS:
                pages[-1] += "\n\n" + piece
            else:
                pages.append(piece)
    write_pdf(path, doc.title, pages, author="PyRef documentation team")


def _article(url: str, doc: Doc, date: str, page: str) -> Article:
    return Article(url, doc.title, date, [text for _, text in doc.blocks], page)


def _date(index: int) -> str:
    return f"2025-{index % 12 + 1:02d}-{index % 27 + 1:02d}"


@dataclass(frozen=True)
class Delivery:
    """What one build wrote, for the demo's printout."""

    pages: int
    mirrored: int
    pdfs: int
    other_languages: int
    with_pii: int


def _site_pages(docs: tuple[Doc, ...], first: int, spam: bool) -> tuple[list[Article], int]:
    """The site's page of every doc, numbered from `first` (dates, contact lines); every 9th
    has a contact line, with `spam` every 37th a spam comment. Also: how many have PII."""
    articles, with_pii = [], 0
    for index, doc in enumerate(docs):
        related = [docs[(index + k) % len(docs)] for k in range(1, 7)]
        extra = [contact_line(first + index)] if index % 9 == 0 else []
        with_pii += bool(extra)
        if spam and index % 37 == 5:
            extra.append(SPAM_COMMENT)
        date = _date(first + index)
        page = page_html(doc, related, date, extra)
        articles.append(_article(f"{SITE}/{doc.slug}.html", doc, date, page))
    return articles, with_pii


def _write_pdfs(folder: Path, docs: list[Doc]) -> None:
    for doc in docs:
        write_doc_pdf(folder / "pdfs" / f"{doc.slug.split('/')[-1]}.pdf", doc)


def build_first_delivery(folder: Path) -> Delivery:
    """The first crawl: reference topics and the first half of the modules."""
    topics, modules = reference_topics(), module_docs()
    docs = topics + modules[: len(modules) // 2]
    articles, with_pii = _site_pages(docs, 0, spam=True)
    mirrored = docs[3::10]
    for item in articles[:6:2]:  # the same page under a second URL: exact duplicates
        articles.append(
            Article(
                item.url + "?highlight=python", item.title, item.date, item.paragraphs, item.html
            )
        )
    loose = articles[-30:-20]  # ten pages saved by hand rather than crawled
    crawled = [item for item in articles if item not in loose]
    write_warc(folder / "crawl" / "docs-2025-10.warc.gz", crawled, deterministic=True)
    mirror = [
        _article(f"{MIRROR}/{doc.slug}.html", doc, "2025-10-01", mirror_html(doc, "2025-10-01"))
        for doc in mirrored
    ]
    write_warc(folder / "crawl" / MIRROR_WARC, mirror, extras=False, deterministic=True)
    pages = folder / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    for item in loose:
        name = item.url.rsplit("/", 1)[-1].replace("?", "-")
        (pages / name).write_text(item.html, encoding="utf-8")
    for code in OTHER_LANGUAGES:
        (pages / f"intro-{code}.html").write_text(language_page(code), encoding="utf-8")
    printed = [doc for doc in topics if len(doc.text()) > 8000][:5]
    _write_pdfs(folder, printed)
    return Delivery(len(articles), len(mirrored), len(printed), len(OTHER_LANGUAGES), with_pii)


def build_second_delivery(folder: Path) -> Delivery:
    """A week later: the second half of the modules, and a page already crawled (a repost)."""
    topics, modules = reference_topics(), module_docs()
    docs = modules[len(modules) // 2 :]
    articles, with_pii = _site_pages(docs, 500, spam=False)
    repost = next(doc for doc in topics if doc.slug == "reference/for")
    articles.append(
        _article(
            f"{MIRROR}/{repost.slug}.html",
            repost,
            "2025-10-08",
            page_html(repost, [], "2025-10-08"),
        )
    )
    write_warc(folder / "crawl" / "docs-2025-11.warc.gz", articles, deterministic=True)
    printed = [doc for doc in docs if len(doc.text()) > 20000][:2]
    _write_pdfs(folder, printed)
    return Delivery(len(articles), 1, len(printed), 0, with_pii)
