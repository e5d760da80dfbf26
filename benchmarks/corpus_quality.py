"""The quality benchmark's input: a noisy web crawl of HTML pages in WARC.gz files, built offline
from real text found on this machine (`corpus_local`), and a held-out set of clean English
documents that the crawl never contains. `quality.py` asks whether our pipeline's filtered and
deduplicated corpus trains a better small model than the raw extraction, at equal tokens.

Page classes (each page is a WARC `response` record, HTTP 200, text/html; charset utf-8, at a
plausible URL; all but `clean` and `duplicate` are "noise"):

- clean: a real English document, several prose paragraphs of one source (man pages with their
  section headings, package READMEs from METADATA, stdlib docstrings of one whole module,
  READMEs and notes under /usr/share/doc), in a real site's chrome: cookie banner, header
  navigation, breadcrumbs, a sidebar menu, a footer of link columns; one of three layouts
  (documentation site, blog, wiki). Only paragraphs that read as prose are kept (15+ words,
  sentence-shaped, stop words, no markup, options or braces, at most 12% of the words code-like
  such as os.walk() or a_b), each paragraph once on the whole machine; a document has 3+ such
  paragraphs, 5+ sentences and 100+ words. Changelogs and licences are left out (lists, and
  copies of the same few texts), and so are the 16,000 templated `gcloud` man pages.
- boilerplate: index pages of the same sites: category listings of links, tag clouds, archive
  and sitemap pages, a login form, a "page not found" served with 200; a sentence or two.
- spam: SEO keyword stuffing: "buy cheap X", "best X price", "X online" over and over,
  keyword link lists, stuffed titles, the same pitch sentence with the keywords swapped.
- garbled: word salad (a real page's words shuffled), mojibake (UTF-8 read as cp1252, of
  real English and foreign paragraphs), random character runs, and one real paragraph or a few
  lines repeated many times.
- duplicate: copies of clean pages of this crawl: exact ones (the same text on a mirror site or
  at a second URL of the same site: ?utm_source, /amp/, /print/) and near ones (a few words
  changed and/or a line added at the top or bottom), for exact and MinHash dedup.
- foreign: translated man pages (13 languages, `corpus_filter.NON_ENGLISH`) on local sites.
- contact: contact pages and staff directories: made-up names, e-mail addresses, phone
  numbers, street addresses, opening hours, "call us".

Shares, by pages (SHARES): clean 50%, duplicate 12%, foreign 10%, boilerplate 10%, spam 7%,
garbled 6%, contact 5%. RefinedWeb (Penedo et al. 2023, figure 2) reports that its
pipeline removes nearly 90% of Common Crawl's documents: about half for not being English,
24% of the rest as low quality and 12% as duplicates. Our crawl stands for an English-targeted
crawl, so foreign pages are 10% rather than half (most of the budget stays English); the
English low-quality classes (boilerplate, spam, garbled, contact: 28% of pages, 31% of the
English pages) match the 24% quality removal plus RefinedWeb's repetition and line-level
stages; duplicates take RefinedWeb's 12%. Clean pages are half of the pages and, being the
longest, most of the bytes.

Sizes: `clean_mb` is the text of the clean pages (their paragraphs, UTF-8, before copies);
the noise classes have their pages from SHARES, counted from the clean pages. What one machine
holds is limited: this one (Debian, Python 3.11, the project's two virtual environments) has
8.8 MB of such prose in 3,058 documents (man pages 5.8 MB, /usr/share/doc 2.3, stdlib 0.55,
READMEs 0.17), 8.3 MB of it on the crawl side of the split, so the default is
`DEFAULT_CLEAN_MB` (8.0), not 12; asking for more takes all there is and says so (stderr).

Held-out set: before anything is built, every source (a man page name, a package, a stdlib
module, a /usr/share/doc package) is assigned by a hash of its name to the crawl or to the
held-out side (HELDOUT_FRACTION of the sources); each prose paragraph is kept once on the
whole machine, and a held-out paragraph sharing more than a fifth of its word 8-grams with the
crawl side is dropped too. Held-out documents are plain paragraphs, one .txt file each; the
split and the choice of held-out documents do not depend on the seed (every seed is scored
on the same text).

Deterministic: the same seed on the same machine gives byte-identical WARC files (record ids
and dates come from the file name, record position and URL; see `samples.write_warc`).

Writes into `work`: crawl/crawl-0N.warc.gz (WARC_FILES files), heldout/NNNN.txt,
shares.json (counts, shares, bytes per class, available prose), labels.json (URL -> class/kind,
e.g. "clean/man", "duplicate/near", "garbled/mojibake") and duplicates.json (copy URL -> URL of
the clean page copied).

Measured with the defaults (seed 0; 5,461 pages, 41 MB of HTML; built in ~22 s on one core)
through `llm-data extract`, `filter` and `dedup` with the default config: 89% of the clean
pages (86% of their text) pass the filter; the rest fall to gopher_repetition:dup_5gram
(templated reference pages: cmake-variables, systemctl's verbs) and gopher_quality:alpha_words
(punctuation-dense technical text: tokens include punctuation, as in datatrove). No foreign,
spam or contact page passes; 4 of 546 boilerplate pages and 55 of 328 garbled ones do (word
salad and mojibake keep English words and stop words). Dedup then leaves one page per clean
document (exact and near copies, ~0.9 Jaccard on word 5-grams, are found).

    .venv-bench/bin/python benchmarks/corpus_quality.py --work benchmarks/_work/quality
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import html
import json
import random
import re
import shutil
import string
import sys
import sysconfig
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus_crawl import WARC_FILES
from corpus_filter import NON_ENGLISH
from corpus_local import (
    doc_files,
    man_pages,
    package_descriptions,
    read_text,
    roff_to_text,
    stdlib_docs,
    stdlib_modules,
)

from llm_pretrain.samples import Article, write_warc

SHARES: dict[str, float] = {
    "clean": 0.50,
    "duplicate": 0.12,  # RefinedWeb: 12% of documents removed as duplicates
    "foreign": 0.10,  # RefinedWeb: ~50% of Common Crawl; ours is an English-targeted crawl
    "boilerplate": 0.10,
    "spam": 0.07,
    "garbled": 0.06,
    "contact": 0.05,
}  # the four English noise classes: 28% of pages (RefinedWeb: 24% removed as low quality)
DEFAULT_CLEAN_MB = 8.0  # what this machine holds on the crawl side (8.3 MB), rounded down
HELDOUT_FRACTION = 0.08  # of the sources, by a hash of their name
PIECE_CHARS = (2000, 8000)  # a clean document: its paragraphs up to a target drawn from here
MIN_PARAGRAPHS, MIN_SENTENCES, MIN_WORDS = 3, 5, 100
OVERLAP_NGRAM, OVERLAP_MAX = 8, 0.2  # held-out paragraphs sharing more 8-grams are dropped

# --- reading real prose ------------------------------------------------------------------------

_STOP_WORDS = set(
    """the of and to a in is it that for on as with be by this are or an not can from at which
    if you will when its was has have may their these also used use only all but more one other
    than into such""".split()
)
_ENGLISH_ONLY = set("the of and to that with this which from are for you be it or can will".split())
# Code, markup, paths, URLs, options, citations: a paragraph with any of them is not prose.
_NOT_PROSE = re.compile(r"[{}\\|<>=$#@~^]|https?:|www\.|::|>>>|\.\.\.$|\s--?\w|\[\d*\]|_{2}")
_MARKUP = [
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # markdown images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # markdown links
    (re.compile(r"`([^`<]+?)\s*<[^>]+>`_+"), r"\1"),  # rst links
    (re.compile(r":[a-z:]+:`~?([^`]+)`"), r"\1"),  # rst roles
    (re.compile(r"`{1,2}([^`]+)`{1,2}"), r"\1"),  # code spans
    (re.compile(r"\*\*([^*]+)\*\*"), r"\1"),  # bold
    (re.compile(r"(?<!\w)\*([^*\s][^*]*)\*(?!\w)"), r"\1"),  # italics
    (re.compile(r"(?<!\w)_([^_\s][^_]*)_(?!\w)"), r"\1"),
]
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.M | re.S)
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_LIST_OR_CODE = re.compile(r"^\s*(?:[*+\-•]\s|\d+[.)]\s|>>>|\$ |\||\+-|\.\. )")
_SIGNATURE = re.compile(r"^(?:class [\w.]+|[\w.]+\(.*\))$")
_CODE_WORD = re.compile(r"\w[._/]+\w|[()\[\]_/]")  # os.path, foo(), a_b, dir/file
_HEADING = re.compile(r"[^\W\d_][^\W_]*(?:[ ,:'’&/-]+[^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|[。！？]")


def _demarkup(text: str) -> str:
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return html.unescape(text).strip()


def english_prose(paragraph: str) -> bool:
    """Whether a paragraph reads as English prose: 15+ words, a capital at the start and a
    full stop at the end, letters, stop words, no code, markup, paths or options."""
    words = paragraph.split()
    if len(words) < 15 or len(paragraph) > 3000:
        return False
    if not paragraph[0].isupper() or paragraph[-1] not in ".!?" or _NOT_PROSE.search(paragraph):
        return False
    if sum(any(c.isalpha() for c in w) for w in words) < 0.8 * len(words):
        return False
    if sum(w.lower().strip(".,;:()'\"") in _STOP_WORDS for w in words) < 0.2 * len(words):
        return False
    if sum(c.isupper() for c in paragraph) > 0.15 * len(paragraph):
        return False
    if max(len(w) for w in words) > 30 or sum(map(len, words)) > 8 * len(words):
        return False
    bare = [w.strip(".,;:!?\"'") for w in words]
    code = sum(bool(_CODE_WORD.search(w)) and w not in ("e.g", "i.e") for w in bare)
    if code > 0.12 * len(words):  # prose about code, but mostly code: os.walk(), a_b, dir/file
        return False
    return sum(not c.isascii() for c in paragraph) <= 0.05 * len(paragraph)


def foreign_prose(paragraph: str) -> bool:
    """Whether a paragraph of a translated page reads as prose and is not left in English."""
    words = paragraph.split()
    if len(paragraph) < 80 or len(paragraph) > 3000 or _NOT_PROSE.search(paragraph):
        return False
    if paragraph[-1] not in ".!?。！？" or not paragraph[0].isalpha():
        return False
    wide = sum(c >= "\u3000" for c in paragraph)  # CJK: few spaces
    if wide < 20 and len(words) < 12:
        return False
    return sum(w.lower().strip(".,;:()") in _ENGLISH_ONLY for w in words) <= 0.04 * len(words)


def heading(text: str) -> str | None:
    """A section heading as a page would show it ("SEE ALSO" -> "See Also", "os.walk(top)" ->
    "walk"), or None for one that is code, a path or a placeholder."""
    text = _demarkup(text)
    if _SIGNATURE.match(text):
        text = text.removeprefix("class ").partition("(")[0].rpartition(".")[2]
    if text.isupper():
        text = text.title()
    return text if 2 < len(text) < 80 and _HEADING.fullmatch(text) else None


def text_blocks(text: str) -> list[tuple[str, str]]:
    """Markdown, reStructuredText or plain text as ("h", heading), ("p", paragraph on one line)
    and ("x", "") for lists, tables and code."""
    text = _FENCE.sub("", text.replace("\r\n", "\n"))
    out: list[tuple[str, str]] = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if lines and lines[0].lstrip().startswith("#"):
            out.append(("h", lines.pop(0).strip("# \t")))
        if len(lines) >= 2 and _RST_UNDERLINE.match(lines[-1]) and len(lines) <= 3:
            out.append(("h", lines[-2].strip()))
            continue
        if not lines:
            continue
        if len(lines) >= 2 and _RST_UNDERLINE.match(lines[1]):
            out.append(("h", lines[0].strip()))
            lines = lines[2:]
        if any(_LIST_OR_CODE.match(line) for line in lines) or not lines:
            out.append(("x", ""))
            continue
        if _SIGNATURE.match(lines[0].strip()):  # stdlib_docs: "name(args)" then the docstring
            out.append(("h", lines.pop(0).strip()))
            if not lines:
                continue
        joined = _demarkup(" ".join(line.strip() for line in lines))
        if len(lines) == 1 and len(joined) < 70 and joined[-1:] not in ".!?:;,":
            out.append(("h", joined))
        else:
            out.append(("p", joined))
    return out


def man_blocks(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """A man page's NAME line ("ls - list directory contents") and its blocks: section
    headings and one paragraph per line."""
    lines = [line.strip() for line in roff_to_text(read_text(path)).split("\n") if line.strip()]
    title = next((line for line in lines[:5] if " - " in line and len(line) < 150), "")
    blocks: list[tuple[str, str]] = []
    for line in lines:
        if len(line) < 60 and line[-1] not in ".!?:;,。":
            blocks.append(("h", line))
        else:
            blocks.append(("p", line))
    return title, blocks


@dataclass
class Piece:
    """One clean document: a run of prose paragraphs (and their headings) of one source."""

    ident: str  # source identity and piece number
    source: str  # the source identity: what the held-out split hashes
    kind: str  # man, readme, stdlib, doc (or a language code, for foreign pieces)
    title: str
    blocks: list[tuple[str, str]]

    @property
    def paragraphs(self) -> list[str]:
        return [text for tag, text in self.blocks if tag == "p"]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _digest(text: str, size: int = 8) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=size).digest(), "big")


def _enough(blocks: list[tuple[str, str]]) -> bool:
    paragraphs = [text for tag, text in blocks if tag == "p"]
    text = " ".join(paragraphs)
    return (
        len(paragraphs) >= MIN_PARAGRAPHS
        and len(_SENTENCE_END.findall(text)) >= MIN_SENTENCES
        and len(text.split()) + sum(c >= "\u3000" for c in text) // 2 >= MIN_WORDS
    )


def cut_pieces(
    source: str,
    kind: str,
    title: str,
    blocks: list[tuple[str, str]],
    seen: set[int],
    prose: Callable[[str], bool] = english_prose,
    sizes: tuple[int, int] = PIECE_CHARS,
) -> list[Piece]:
    """The prose paragraphs of one source not seen before on this machine, each with the
    heading it came under, cut into documents of PIECE_CHARS (seeded by the source alone)."""
    kept: list[tuple[str, str]] = []
    pending = None
    for tag, text in blocks:
        if tag == "h":
            pending = heading(text)
            continue
        if tag != "p" or not prose(text):
            continue
        key = _digest(_norm(text), 12)
        if key in seen:
            continue
        seen.add(key)
        if pending:
            kept.append(("h", pending))
            pending = None
        kept.append(("p", text))
    rng = random.Random(f"cut {source}")
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size, target = 0, rng.randint(*sizes)
    for block in kept:
        current.append(block)
        if block[0] == "p":
            size += len(block[1]) + 2
            if size >= target:
                groups.append(current)
                current, size, target = [], 0, rng.randint(*sizes)
    if current:
        if groups and not _enough(current):
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [
        Piece(f"{source}#{k}", source, kind, title, group)
        for k, group in enumerate(groups)
        if _enough(group)
    ]


def english_pieces() -> list[Piece]:
    """Every clean English document this machine holds, in a fixed order: man pages, package
    READMEs, stdlib modules, /usr/share/doc notes; each paragraph kept once."""
    seen: set[int] = set()
    pieces: list[Piece] = []
    for path in man_pages(None):
        if path.name.startswith("gcloud"):  # templated: thousands of near-identical pages
            continue
        name = path.name.removesuffix(".gz")
        stem, _, section = name.rpartition(".")
        title, blocks = man_blocks(path)
        title = f"{stem}({section}): {title.partition(' - ')[2] or stem}"
        pieces += cut_pieces(f"man:{stem}", "man", title, blocks, seen)
    names: set[str] = set()
    for path, body in package_descriptions():
        headers = email.parser.Parser().parsestr(read_text(path), headersonly=True)
        name = re.sub(r"[-_.]+", "-", str(headers.get("Name", path.parent.name))).lower()
        if name in names:
            continue
        names.add(name)
        title = f"{headers.get('Name', name)}: {headers.get('Summary', 'project description')}"
        pieces += cut_pieces(f"pypi:{name}", "readme", title, text_blocks(body), seen)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in stdlib_modules():
        module = ".".join(path.relative_to(stdlib).with_suffix("").parts).removesuffix(".__init__")
        blocks = text_blocks(stdlib_docs(path))
        summary = next((text for tag, text in blocks if tag == "p"), "")[:80]
        title = f"{module}: {summary.partition('. ')[0]}" if summary else module
        pieces += cut_pieces(f"stdlib:{module}", "stdlib", title, blocks, seen)
    root = Path("/usr/share/doc")
    for path in doc_files():
        if path.name.lower().startswith(("changelog", "copyright", "license", "licence")):
            continue
        package = path.relative_to(root).parts[0]
        title = f"{package}: {path.name.removesuffix('.gz')}"
        pieces += cut_pieces(f"doc:{package}", "doc", title, text_blocks(read_text(path)), seen)
    return pieces


def foreign_pieces() -> list[Piece]:
    """Prose of the translated man pages, one piece per page run, kind = language code."""
    seen: set[int] = set()
    pieces: list[Piece] = []
    for language in NON_ENGLISH:
        for path in man_pages(language):
            title, blocks = man_blocks(path)
            stem = path.name.removesuffix(".gz").rpartition(".")[0]
            title = title or stem
            source = f"man-{language}:{stem}"
            pieces += cut_pieces(source, language, title, blocks, seen, foreign_prose, (1000, 4000))
    return pieces


def is_heldout(source: str) -> bool:
    """The held-out side of the split: a hash of the source's name, not of the seed."""
    return _digest(f"heldout {source}") / 2**64 < HELDOUT_FRACTION


def _ngrams(text: str) -> Iterator[int]:
    words = _norm(text).split()
    for i in range(len(words) - OVERLAP_NGRAM + 1):
        gram = " ".join(words[i : i + OVERLAP_NGRAM]).encode()
        yield zlib.crc32(gram) << 32 | zlib.adler32(gram)


def drop_overlap(heldout: list[Piece], crawl: list[Piece]) -> list[Piece]:
    """Held-out pieces without the paragraphs that share more than OVERLAP_MAX of their word
    8-grams with any crawl-side piece (and without the pieces then too short)."""
    grams = {gram for piece in crawl for gram in _ngrams(piece.text)}
    kept = []
    for piece in heldout:
        blocks = []
        for tag, text in piece.blocks:
            own = list(_ngrams(text)) if tag == "p" else []
            if own and sum(gram in grams for gram in own) > OVERLAP_MAX * len(own):
                continue
            blocks.append((tag, text))
        if _enough(blocks):
            kept.append(Piece(piece.ident, piece.source, piece.kind, piece.title, blocks))
    return kept


# --- sites and their chrome --------------------------------------------------------------------

_SITE_WORDS = (
    "open tech linux dev code byte unix sys net data kernel shell stack cloud bit pixel "
    "source logic signal vector"
).split()
_SITE_ENDS = "notes docs hub wiki guide corner journal press base lab works review zone".split()
_TLDS = [".org", ".com", ".net", ".io", ".dev", ".info"]
_NAV = (
    "Home|Docs|Tutorials|Guides|Blog|News|Reference|Downloads|Community|Forum|About|Contact|"
    "Support|Projects|Archive|FAQ|Resources|Events|Careers|Shop|Help|Learn|Changelog|Status"
).split("|")
_TAGS = (
    "linux python unix networking security shell git debian performance tutorial howto "
    "database web api testing build packaging compilers graphics audio terminal editors "
    "kernel systemd containers cloud scripting beginners advanced tips release"
).split()
_FIRST = (
    "Anna James Maria Robert Linda Michael Sarah David Laura Thomas Emma Daniel Olivia Peter "
    "Sophie Paul Grace Mark Chloe Steven Alice Brian Julia Kevin Nora Simon Ruth Oscar Helen "
    "Victor Irene Felix Clara Hugo Ella Martin Lucy Adam Rosa Ivan"
).split()
_LAST = (
    "Smith Johnson Brown Taylor Miller Wilson Moore Clark Lewis Walker Hall Young King Wright "
    "Green Baker Adams Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans "
    "Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly"
).split()
_STREETS = (
    "Main Street|Oak Avenue|Station Road|High Street|Park Lane|Maple Drive|Church Road|"
    "Mill Lane|King Street|Victoria Road|Elm Street|Harbour Way|Queens Road|Bridge Street|"
    "Market Square|Cedar Court|Riverside Drive|Hill Road|Chapel Street|Orchard Close"
).split("|")
_CITIES = (
    "Springfield|Riverton|Fairview|Kingston|Lakewood|Greenville|Madison|Clinton|Bristol|"
    "Ashford|Milton|Oakridge|Westbury|Newport|Salem|Franklin|Georgetown|Dover|Arlington|Hudson"
).split("|")
_ROLES = (
    "Managing Director|Head of Sales|Office Manager|Customer Support|Accounts|Marketing Lead|"
    "Technical Director|Press Officer|HR Manager|Project Coordinator|Receptionist|"
    "Senior Engineer|Legal Counsel|Operations Manager|Account Executive"
).split("|")
_PRODUCTS = (
    "cheap flights|payday loans|replica watches|weight loss pills|car insurance|online casino|"
    "bitcoin trading|essay writing service|web hosting|running shoes|designer handbags|"
    "vpn service|forex signals|cbd oil|phone cases|led headlights|garden furniture|"
    "dental implants|seo services|diet supplements|cheap hotels|used cars|home loans|"
    "mobile games|hair extensions"
).split("|")
_SPAM_PHRASES = [
    "buy cheap {p}", "best {p} price", "{p} online", "cheap {p} online", "{p} discount code",
    "{p} free shipping", "best {p} {year}", "{p} near me", "{p} {city}", "top 10 {p}",
    "{p} coupon", "order {p} today", "{p} sale", "discount {p}", "{p} reviews",
    "cheapest {p} deals", "buy {p} online best price", "{p} for sale", "official {p} store",
]  # fmt: skip
_SPAM_PITCH = [
    "Looking for {a}? We offer the best {b} and {c} at the lowest prices!",
    "Buy {a} now and get {b} with {c}, best price guaranteed!!!",
    "Our {a} is the number one {b} site, compare {c} today.",
    "Click here for {a}, {b} and {c}. Limited offer!",
]
_LOCAL_NAV = {
    "fr": "Accueil|Documentation|Actualités|Forum|À propos|Contact",
    "de": "Startseite|Dokumentation|Neuigkeiten|Forum|Über uns|Kontakt",
    "es": "Inicio|Documentación|Noticias|Foro|Acerca de|Contacto",
    "it": "Home|Documentazione|Notizie|Forum|Chi siamo|Contatti",
    "pt_BR": "Início|Documentação|Notícias|Fórum|Sobre|Contato",
    "nl": "Home|Documentatie|Nieuws|Forum|Over ons|Contact",
    "sv": "Hem|Dokumentation|Nyheter|Forum|Om oss|Kontakt",
    "pl": "Strona główna|Dokumentacja|Aktualności|Forum|O nas|Kontakt",
    "ru": "Главная|Документация|Новости|Форум|О нас|Контакты",
    "uk": "Головна|Документація|Новини|Форум|Про нас|Контакти",
    "ja": "ホーム|ドキュメント|ニュース|フォーラム|概要|お問い合わせ",
    "zh_CN": "首页|文档|新闻|论坛|关于我们|联系我们",
    "ko": "홈|문서|뉴스|포럼|소개|문의",
}
_COUNTRY = {"pt_BR": "br", "zh_CN": "cn", "ja": "jp", "ko": "kr", "uk": "ua", "sv": "se"}


@dataclass
class Site:
    domain: str
    name: str
    layout: str  # docs, blog or wiki
    nav: list[str]
    lang: str = "en"
    titles: list[str] = field(default_factory=list)  # its pages, for menus and index pages


def make_sites(rng: random.Random, count: int, lang: str = "en") -> list[Site]:
    """`count` sites with distinct domains, a layout and a menu each."""
    sites, domains = [], set()
    while len(sites) < count:
        first, end = rng.choice(_SITE_WORDS), rng.choice(_SITE_ENDS)
        tld = rng.choice(_TLDS) if lang == "en" else "." + _COUNTRY.get(lang, lang.split("_")[0])
        domain = f"{rng.choice(['', 'www.', 'docs.', 'blog.'])}{first}{end}{tld}"
        if domain in domains:
            continue
        domains.add(domain)
        nav = _LOCAL_NAV[lang].split("|") if lang in _LOCAL_NAV else rng.sample(_NAV, 7)
        layout = rng.choice(["docs", "blog", "wiki"])
        sites.append(Site(domain, f"{first.capitalize()}{end.capitalize()}", layout, nav, lang))
    return sites


def slug(text: str, words: int = 8) -> str:
    found = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(found) or "page"


def _links(items: list[str], prefix: str) -> str:
    return "".join(
        f'<li><a href="/{prefix}/{slug(item)}">{html.escape(item)}</a></li>' for item in items
    )


def _date(rng: random.Random) -> str:
    return f"20{rng.randint(12, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def page_html(site: Site, title: str, main: str, rng: random.Random, description: str = "") -> str:
    """A full page in the site's chrome around `main` (the article's HTML)."""
    other = rng.sample(site.titles, min(len(site.titles), rng.randint(6, 14)))
    nav = "".join(
        f'<li class="nav-item"><a href="/{slug(item)}/">{html.escape(item)}</a></li>'
        for item in site.nav
    )
    columns = "".join(
        f'<div class="footer-col"><h4>{html.escape(head)}</h4><ul>'
        + _links(rng.sample(_NAV, 5), slug(head))
        + "</ul></div>"
        for head in rng.sample(site.nav, min(3, len(site.nav)))
    )
    crumbs = " &rsaquo; ".join(
        f'<a href="/{slug(item)}/">{html.escape(item)}</a>' for item in site.nav[:2]
    )
    esc_title = html.escape(title)
    if site.layout == "docs":
        body = (
            f'<div class="container"><nav class="toc" aria-label="Contents"><h3>Contents</h3>'
            f'<ul>{_links(other, "docs")}</ul></nav><main id="main"><nav class="breadcrumb">'
            f"{crumbs}</nav><article><h1>{esc_title}</h1>{main}</article>"
            '<div class="feedback">Was this page helpful? <button>Yes</button>'
            '<button>No</button></div><nav class="pager"><a href="#">&laquo; Previous</a>'
            '<a href="#">Next &raquo;</a></nav></main></div>'
        )
    elif site.layout == "blog":
        author = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        tags = "".join(f'<a rel="tag" href="/tag/{t}/">{t}</a> ' for t in rng.sample(_TAGS, 4))
        body = (
            f'<main id="main"><article class="post"><h1 class="entry-title">{esc_title}</h1>'
            f'<div class="entry-meta">Posted on <time>{_date(rng)}</time> by '
            f'<a href="/author/{slug(author)}/">{author}</a></div>'
            f'<div class="entry-content">{main}</div><footer class="entry-footer">Tags: {tags}'
            '</footer></article><div class="share">Share this: <a href="#">Twitter</a> '
            '<a href="#">Facebook</a> <a href="#">LinkedIn</a> <a href="#">Email</a></div>'
            '<section id="respond"><h3>Leave a Reply</h3><form><label>Name</label><input>'
            "<label>Email</label><input><textarea></textarea><button>Post Comment</button>"
            f'</form></section></main><aside class="sidebar"><h3>Recent Posts</h3><ul>'
            f"{_links(other, 'blog')}</ul><h3>Categories</h3><ul>"
            f"{_links(rng.sample(_TAGS, 6), 'category')}</ul></aside>"
        )
    else:
        categories = " | ".join(f'<a href="/Category:{t}">{t}</a>' for t in rng.sample(_TAGS, 3))
        body = (
            f'<div id="mw-panel"><ul>{_links(other, "wiki")}</ul></div><div id="content">'
            f'<h1 id="firstHeading">{esc_title}</h1><div id="siteSub">From {site.name}, the '
            f'free knowledge base</div><div id="bodyContent">{main}</div>'
            f'<div class="printfooter">Retrieved from "https://{site.domain}/wiki/{slug(title)}"'
            f'</div><div id="catlinks">Categories: {categories}</div></div>'
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{site.lang.replace("_", "-")}"><head>'
        f'<meta charset="utf-8"><title>{esc_title} | {site.name}</title>'
        f'<meta name="description" content="{html.escape(description[:155])}">'
        f'<meta property="og:site_name" content="{site.name}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/main.css">'
        f"<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push("
        f"arguments);}}gtag('js',new Date());gtag('config','G-{rng.randint(10**6, 10**7)}');"
        "</script></head><body>"
        '<div class="cookie-banner" role="dialog">We use cookies to give you the best '
        "experience on our website. By continuing to browse you agree to our use of cookies. "
        "<button>Accept all</button> <button>Manage preferences</button></div>"
        f'<header class="site-header"><a class="logo" href="/">{site.name}</a>'
        f'<nav class="main-nav"><ul>{nav}</ul></nav><form class="search" action="/search">'
        '<input name="q" placeholder="Search"><button>Search</button></form></header>'
        f'{body}<footer class="site-footer"><div class="footer-cols">{columns}</div>'
        f"<p>&copy; {rng.randint(2015, 2025)} {site.name}. All rights reserved.</p>"
        '<ul class="legal"><li><a href="/privacy">Privacy Policy</a></li>'
        '<li><a href="/terms">Terms of Use</a></li><li><a href="/cookies">Cookie Settings</a>'
        "</li></ul></footer></body></html>"
    )


def article_html(blocks: list[tuple[str, str]]) -> str:
    return "\n".join(
        f"<h2>{html.escape(text)}</h2>" if tag == "h" else f"<p>{html.escape(text)}</p>"
        for tag, text in blocks
    )


# --- the page classes --------------------------------------------------------------------------


@dataclass
class Page:
    label: str  # class/kind
    url: str
    title: str
    paragraphs: list[str]
    html: str


class Crawl:
    """The pages so far, with distinct URLs."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        self.urls: set[str] = set()
        self.copies: dict[str, str] = {}  # duplicate page URL -> URL of the clean page copied

    def add(self, label: str, url: str, title: str, paragraphs: list[str], page: str) -> None:
        base, k = url, 1
        while url in self.urls:
            k += 1
            url = f"{base}-{k}" if "?" not in base else f"{base}&p={k}"
        self.urls.add(url)
        self.pages.append(Page(label, url, title, paragraphs, page))


def clean_url(site: Site, piece: Piece) -> str:
    """Where a clean page lives on its site: /docs/man/ls-list-directory-contents-part-2."""
    section = {"man": "man", "readme": "projects", "stdlib": "python", "doc": "notes"}[piece.kind]
    prefix = {"docs": "docs", "blog": f"{2012 + _digest(piece.ident) % 14}", "wiki": "wiki"}
    part = piece.ident.rpartition("#")[2]
    tail = "" if part == "0" else f"-part-{int(part) + 1}"
    return f"https://{site.domain}/{prefix[site.layout]}/{section}/{slug(piece.title)}{tail}"


def duplicate_page(
    crawl: Crawl,
    original: Page,
    piece: Piece,
    sites: list[Site],
    mirrors: list[Site],
    rng: random.Random,
) -> None:
    """An exact copy (mirror site or second URL) or a near copy (a few words changed, a line
    added) of a clean page."""
    blocks = list(piece.blocks)
    if rng.random() < 0.5:
        kind = "exact"
        if rng.random() < 0.5:
            site = rng.choice(mirrors)
            url = f"https://{site.domain}/{slug(piece.title)}.html"
        else:
            site = next(s for s in sites if original.url.startswith(f"https://{s.domain}/"))
            url = original.url + rng.choice(["?utm_source=feed", "/amp/", "/print/", "?ref=rss"])
    else:
        kind = "near"
        site = rng.choice(mirrors + sites)
        paragraphs = [k for k, (tag, _) in enumerate(blocks) if tag == "p"]
        vocabulary = " ".join(piece.paragraphs).split()
        for _ in range(max(1, min(6, len(vocabulary) // 150))):  # Jaccard ~0.9 on 5-grams
            k = rng.choice(paragraphs)
            words = blocks[k][1].split()
            at = rng.randrange(len(words))
            words[at] = rng.choice(vocabulary)
            blocks[k] = ("p", " ".join(words))
        if rng.random() < 0.6:
            line = rng.choice(
                [
                    f"This article first appeared on {rng.choice(sites).name}.",
                    f"Updated on {_date(rng)} with minor corrections.",
                    "Reposted with permission from the original author.",
                    f"Source: {rng.choice(sites).name}, retrieved {_date(rng)}.",
                ]
            )
            at = 0 if rng.random() < 0.5 else len(blocks)
            blocks.insert(at, ("p", line))
        folder = rng.choice(["mirror", "read", "articles"])
        url = f"https://{site.domain}/{folder}/{slug(piece.title)}"
    main = article_html(blocks)
    paragraphs = [text for tag, text in blocks if tag == "p"]
    page = page_html(site, piece.title, main, rng, paragraphs[0])
    crawl.add(f"duplicate/{kind}", url, piece.title, paragraphs, page)
    crawl.copies[crawl.pages[-1].url] = original.url


def boilerplate_page(crawl: Crawl, site: Site, rng: random.Random) -> None:
    """An index page: links, tags, an archive, a login form or a soft 404."""
    kind = rng.choice(["category", "tags", "archive", "sitemap", "login", "not-found"])
    titles = rng.sample(site.titles, min(len(site.titles), rng.randint(10, 40)))
    tag = rng.choice(_TAGS)
    if kind == "category":
        title = f"Category: {tag.capitalize()}"
        main = (
            f"<p>Browse all articles filed under {tag}.</p><ul class='posts'>"
            + "".join(
                f'<li><a href="/{slug(t)}/">{html.escape(t)}</a> <span>{_date(rng)}</span></li>'
                for t in titles
            )
            + f"</ul><nav>Page {rng.randint(2, 9)} of {rng.randint(10, 40)} "
            "<a href='#'>&laquo; Newer posts</a> <a href='#'>Older posts &raquo;</a></nav>"
        )
        url = f"https://{site.domain}/category/{tag}/page/{rng.randint(2, 9)}/"
    elif kind == "tags":
        title = "Tags"
        main = (
            '<div class="tagcloud">'
            + " ".join(
                f'<a href="/tag/{t}/" style="font-size:{rng.randint(8, 22)}pt">{t}</a>'
                for t in rng.sample(_TAGS, len(_TAGS))
                for _ in range(rng.randint(1, 3))
            )
            + "</div>"
        )
        url = f"https://{site.domain}/tags/"
    elif kind == "archive":
        title = "Archives"
        months = (
            "January February March April May June July August September October "
            "November December".split()
        )
        main = (
            "<ul>"
            + "".join(
                f'<li><a href="/{y}/{m:02d}/">{months[m - 1]} {y}</a> ({rng.randint(1, 30)})</li>'
                for y in range(2025, rng.randint(2017, 2022), -1)
                for m in range(12, 0, -1)
            )
            + "</ul>"
        )
        url = f"https://{site.domain}/archives/"
    elif kind == "sitemap":
        title = "Sitemap"
        main = "".join(
            f"<h3>{html.escape(section)}</h3><ul>"
            + _links(rng.sample(titles, min(5, len(titles))), slug(section))
            + "</ul>"
            for section in site.nav
        )
        url = f"https://{site.domain}/sitemap/"
    elif kind == "login":
        title = "Sign in"
        main = (
            "<h2>Sign in to your account</h2><form><label>Username or email</label><input>"
            "<label>Password</label><input type='password'><label><input type='checkbox'> "
            "Remember me</label><button>Log in</button></form><p><a href='#'>Forgot your "
            "password?</a> | <a href='#'>Create an account</a></p>"
        )
        url = f"https://{site.domain}/login?next=/{slug(rng.choice(titles))}/"
    else:
        title = "Page not found"
        main = (
            "<h2>Oops! That page can't be found.</h2><p>It looks like nothing was found at "
            "this location. Maybe try one of the links below or a search?</p><ul>"
            + _links(titles[:10], "docs")
            + "</ul>"
        )
        url = f"https://{site.domain}/{slug(rng.choice(titles))}-old/"
    crawl.add(f"boilerplate/{kind}", url, title, [], page_html(site, title, main, rng))


def spam_page(crawl: Crawl, rng: random.Random) -> None:
    """Keyword stuffing around one product."""
    product = rng.choice(_PRODUCTS)
    year = rng.randint(2015, 2025)

    def keyword() -> str:
        return rng.choice(_SPAM_PHRASES).format(p=product, year=year, city=rng.choice(_CITIES))

    title = " | ".join(keyword().title() for _ in range(3))
    paragraphs = []
    for _ in range(rng.randint(2, 6)):
        if rng.random() < 0.4:
            pitch = " ".join(
                rng.choice(_SPAM_PITCH).format(a=keyword(), b=keyword(), c=keyword())
                for _ in range(rng.randint(2, 6))
            )
            paragraphs.append(pitch)
        else:
            separator = rng.choice([", ", " | ", " - ", " "])
            paragraphs.append(separator.join(keyword() for _ in range(rng.randint(10, 40))))
    keywords = "".join(
        f'<li><a href="/{slug(k)}.html">{html.escape(k)}</a></li>'
        for k in (keyword() for _ in range(rng.randint(15, 40)))
    )
    main = (
        "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + f"<h3>Popular searches</h3><ul class='keywords'>{keywords}</ul>"
    )
    domain = slug(product).replace("-", "") + "-" + rng.choice(["best", "cheap", "top", "deals"])
    tld = rng.choice([".biz", ".info", ".xyz", ".top", ".com"])
    name = domain.replace("-", " ").title()
    site = Site(f"www.{domain}{tld}", name, rng.choice(["blog", "docs"]), _NAV[:6])
    site.titles = [keyword().title() for _ in range(12)]
    url = f"https://{site.domain}/{slug(keyword())}-{rng.randint(1, 9999)}.html"
    page = page_html(site, title, main, rng, ", ".join(keyword() for _ in range(10)))
    crawl.add("spam/keywords", url, title, paragraphs, page)


_CP1252 = []
for _byte in range(256):
    try:
        _CP1252.append(bytes([_byte]).decode("cp1252"))
    except UnicodeDecodeError:
        _CP1252.append("\ufffd")


def mojibake(text: str) -> str:
    """UTF-8 bytes read as cp1252, after typographic quotes and dashes (as a CMS adds them)."""
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text).replace(" - ", " \u2013 ")
    return "".join(_CP1252[b] for b in text.encode("utf-8"))


def garbled_page(
    crawl: Crawl, site: Site, rng: random.Random, english: list[Piece], foreign: list[Piece]
) -> None:
    """Word salad, mojibake, random character runs or repeated text."""
    kind = rng.choice(["word-salad", "mojibake", "char-runs", "repeated"])
    source = rng.choice(english)
    if kind == "word-salad":
        words = [w.strip(".,;:!?()\"'").lower() for p in source.paragraphs for w in p.split()]
        rng.shuffle(words)
        paragraphs, at = [], 0
        while at < len(words):
            n = rng.randint(30, 90)
            chunk, at = words[at : at + n], at + n
            for k in range(0, len(chunk), rng.randint(6, 20)):
                chunk[k] = chunk[k].capitalize()
            paragraphs.append(" ".join(chunk) + rng.choice([".", "", " ."]))
    elif kind == "mojibake":
        chosen = [rng.choice(rng.choice(english).paragraphs) for _ in range(rng.randint(2, 4))]
        if foreign and rng.random() < 0.5:
            chosen += rng.choice(foreign).paragraphs[:3]
        paragraphs = [mojibake(p) for p in chosen]
    elif kind == "char-runs":
        pool = string.ascii_letters + string.digits + string.punctuation + "ÃÂ€™œ¢žŸ¤ÿþ¿"
        paragraphs = []
        for _ in range(rng.randint(3, 10)):
            runs = []
            for _ in range(rng.randint(5, 30)):
                if rng.random() < 0.25:
                    runs.append(rng.choice(rng.choice(source.paragraphs).split()))
                else:
                    runs.append("".join(rng.choice(pool) for _ in range(rng.randint(3, 40))))
            paragraphs.append(" ".join(runs))
    else:
        if rng.random() < 0.5:
            paragraphs = [rng.choice(source.paragraphs)] * rng.randint(8, 30)
        else:
            lines = rng.sample(source.paragraphs, min(3, len(source.paragraphs)))
            paragraphs = [rng.choice(lines) for _ in range(rng.randint(15, 40))]
    title = source.title if kind != "mojibake" else mojibake(source.title)
    main = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    path = rng.choice(["node", "post", "item", "p"])
    url = f"https://{site.domain}/{path}/{rng.randint(1, 99999)}"
    crawl.add(f"garbled/{kind}", url, title, paragraphs, page_html(site, title, main, rng))


def _person(rng: random.Random, domain: str) -> tuple[str, str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}"]).lower() + f"@{domain}"
    return f"{first} {last}", email, _phone(rng)


def _phone(rng: random.Random) -> str:
    return rng.choice(
        [
            f"({rng.randint(200, 989)}) 555-{rng.randint(100, 199):04d}",
            f"+1 {rng.randint(200, 989)}-555-{rng.randint(100, 199):04d}",
            f"+44 20 7946 0{rng.randint(100, 999)}",
            f"+49 30 {rng.randint(100000, 999999)}",
            f"{rng.randint(200, 989)}-555-{rng.randint(100, 199):04d}",
        ]
    )


def _address(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 480)} {rng.choice(_STREETS)}, Suite {rng.randint(100, 900)}, "
        f"{rng.choice(_CITIES)}, {rng.choice(['CA', 'NY', 'TX', 'WA', 'OR', 'IL'])} "
        f"{rng.randint(10000, 99999)}"
    )


def contact_page(crawl: Crawl, site: Site, rng: random.Random) -> None:
    """A contact page or staff directory: names, e-mails, phones, addresses, hours."""
    domain = site.domain.removeprefix("www.").removeprefix("docs.").removeprefix("blog.")
    kind = rng.choice(["contact", "directory"])
    lines = [
        f"Call us today on {_phone(rng)} or email us at info@{domain}.",
        f"Head office: {_address(rng)}",
    ]
    for _ in range(rng.randint(1, 4)):
        lines.append(f"{rng.choice(_CITIES)} office: {_address(rng)} Tel: {_phone(rng)}")
    lines.append(
        f"Opening hours: Monday to Friday {rng.randint(7, 9)}am to {rng.randint(4, 7)}pm, "
        "Saturday by appointment."
    )
    rows = []
    for _ in range(rng.randint(4, 12) if kind == "contact" else rng.randint(15, 40)):
        name, email, phone = _person(rng, domain)
        rows.append(f"{name}, {rng.choice(_ROLES)}, {email}, {phone}")
    lines.append(f"Press enquiries: press@{domain}. Support: support@{domain}, {_phone(rng)}.")
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row.split(", ")) + "</tr>"
        for row in rows
    )
    main = (
        "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        + f"<h2>Our team</h2><table><tr><th>Name</th><th>Role</th><th>Email</th><th>Phone</th>"
        f"</tr>{table}</table><form class='contact'><label>Your name</label><input><label>"
        "Your email</label><input><label>Message</label><textarea></textarea><button>Send"
        "</button></form>"
    )
    title = "Contact us" if kind == "contact" else "Staff directory"
    url = f"https://{site.domain}/{'contact-us' if kind == 'contact' else 'about/team'}/"
    crawl.add(f"contact/{kind}", url, title, lines + rows, page_html(site, title, main, rng))


def foreign_page(crawl: Crawl, site: Site, piece: Piece, rng: random.Random) -> None:
    main = article_html(piece.blocks)
    url = f"https://{site.domain}/man/{slug(piece.title) or 'page'}-{rng.randint(1, 999)}"
    page = page_html(site, piece.title, main, rng, piece.paragraphs[0])
    crawl.add(f"foreign/{piece.kind}", url, piece.title, piece.paragraphs, page)


# --- building it all ---------------------------------------------------------------------------


@dataclass
class QualityCorpus:
    crawl: Path  # folder of WARC.gz files
    heldout: Path  # folder of .txt files, one document each
    counts: dict[str, int]  # pages per class
    clean_bytes: int  # text of the clean pages (UTF-8 paragraphs, copies not counted)
    heldout_bytes: int


def _take(pieces: list[Piece], limit: int) -> list[Piece]:
    taken, size = [], 0
    for piece in pieces:
        if size >= limit:
            break
        taken.append(piece)
        size += len(piece.text.encode())
    return taken


def _bytes(pieces: list[Piece]) -> int:
    return sum(len(piece.text.encode()) for piece in pieces)


def build_quality_corpus(
    work: Path, clean_mb: float = DEFAULT_CLEAN_MB, heldout_mb: float = 0.4, seed: int = 0
) -> QualityCorpus:
    """Write the crawl and the held-out set into `work` (replacing what was there)."""
    started = time.perf_counter()
    rng = random.Random(f"quality {seed}")
    pool = english_pieces()
    crawl_pool = [piece for piece in pool if not is_heldout(piece.source)]
    heldout_pool = drop_overlap([p for p in pool if is_heldout(p.source)], crawl_pool)
    heldout_pool.sort(key=lambda piece: _digest(f"order {piece.ident}"))
    heldout = _take(heldout_pool, int(heldout_mb * 1e6))
    order = list(crawl_pool)
    rng.shuffle(order)
    chosen = _take(order, int(clean_mb * 1e6))
    available = _bytes(crawl_pool)
    if available < clean_mb * 1e6:
        print(
            f"note: asked for {clean_mb} MB of clean prose; this machine has "
            f"{available / 1e6:.2f} MB on the crawl side: all of it is used",
            file=sys.stderr,
        )
    if _bytes(heldout) < heldout_mb * 1e6:
        print(
            f"note: asked for {heldout_mb} MB held out; the held-out side has "
            f"{_bytes(heldout_pool) / 1e6:.2f} MB: all of it is used",
            file=sys.stderr,
        )
    foreign = foreign_pieces()
    rng.shuffle(foreign)

    total = round(len(chosen) / SHARES["clean"])
    wanted = {name: round(total * share) for name, share in SHARES.items() if name != "clean"}
    sites = make_sites(rng, 48)
    mirrors = make_sites(rng, 12)
    for site in mirrors:
        site.name = site.name + " Mirror"
    for piece in chosen:
        rng.choice(sites).titles.append(piece.title)
    for site in sites + mirrors:
        site.titles = site.titles or [p.title for p in rng.sample(chosen, 10)]

    crawl = Crawl()
    clean_pages: list[tuple[Page, Piece]] = []
    for piece in chosen:
        site = rng.choice(sites)
        page = page_html(site, piece.title, article_html(piece.blocks), rng, piece.paragraphs[0])
        url = clean_url(site, piece)
        crawl.add(f"clean/{piece.kind}", url, piece.title, piece.paragraphs, page)
        clean_pages.append((crawl.pages[-1], piece))
    for _ in range(wanted["duplicate"]):
        original, piece = rng.choice(clean_pages)
        duplicate_page(crawl, original, piece, sites, mirrors, rng)
    for _ in range(wanted["boilerplate"]):
        boilerplate_page(crawl, rng.choice(sites), rng)
    for _ in range(wanted["spam"]):
        spam_page(crawl, rng)
    for _ in range(wanted["garbled"]):
        garbled_page(crawl, rng.choice(sites + mirrors), rng, chosen, foreign)
    for _ in range(wanted["contact"]):
        contact_page(crawl, rng.choice(sites), rng)
    local_sites = {lang: make_sites(rng, 4, lang) for lang in sorted({p.kind for p in foreign})}
    for k in range(wanted["foreign"]):
        piece = foreign[k % len(foreign)]
        site = rng.choice(local_sites[piece.kind])
        site.titles = site.titles or [p.title for p in foreign[:8]]
        foreign_page(crawl, site, piece, rng)

    pages = list(crawl.pages)
    rng.shuffle(pages)
    crawl_dir, heldout_dir = work / "crawl", work / "heldout"
    for folder in (crawl_dir, heldout_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for part in range(WARC_FILES):
        articles = [
            Article(p.url, p.title, "", p.paragraphs, p.html) for p in pages[part::WARC_FILES]
        ]
        write_warc(
            crawl_dir / f"crawl-{part:02d}.warc.gz", articles, extras=False, deterministic=True
        )
    for k, piece in enumerate(heldout):
        (heldout_dir / f"{k:04d}.txt").write_text(piece.text + "\n", encoding="utf-8")

    counts = Counter(page.label.partition("/")[0] for page in crawl.pages)
    html_bytes: Counter[str] = Counter()
    text_bytes: Counter[str] = Counter()
    for page in crawl.pages:
        name = page.label.partition("/")[0]
        html_bytes[name] += len(page.html.encode())
        text_bytes[name] += len("\n\n".join(page.paragraphs).encode())
    result = QualityCorpus(
        crawl_dir,
        heldout_dir,
        {name: counts[name] for name in SHARES},
        _bytes(chosen),
        _bytes(heldout),
    )
    summary = {
        "seed": seed,
        "clean_mb": clean_mb,
        "heldout_mb": heldout_mb,
        "pages": len(crawl.pages),
        "counts": result.counts,
        "shares": SHARES,
        "realised_shares": {n: round(counts[n] / len(crawl.pages), 4) for n in SHARES},
        "html_bytes": {n: html_bytes[n] for n in SHARES},
        "text_bytes": {n: text_bytes[n] for n in SHARES},
        "kinds": dict(sorted(Counter(page.label for page in crawl.pages).items())),
        "clean_bytes": result.clean_bytes,
        "clean_bytes_by_source": dict(sorted(_by_kind(chosen).items())),
        "heldout_bytes": result.heldout_bytes,
        "heldout_docs": len(heldout),
        "heldout_by_source": dict(sorted(_by_kind(heldout).items())),
        "available": {
            "crawl_side_bytes": available,
            "crawl_side_by_source": dict(sorted(_by_kind(crawl_pool).items())),
            "heldout_side_bytes": _bytes(heldout_pool),
            "foreign_pieces": len(foreign),
        },
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (work / "shares.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    labels = {page.url: page.label for page in crawl.pages}
    (work / "labels.json").write_text(json.dumps(labels, indent=0), encoding="utf-8")
    (work / "duplicates.json").write_text(json.dumps(crawl.copies, indent=0), encoding="utf-8")
    return result


def _by_kind(pieces: list[Piece]) -> Counter[str]:
    found: Counter[str] = Counter()
    for piece in pieces:
        found[piece.kind] += len(piece.text.encode())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "_work" / "quality")
    parser.add_argument("--clean-mb", type=float, default=DEFAULT_CLEAN_MB)
    parser.add_argument("--heldout-mb", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    built = build_quality_corpus(args.work, args.clean_mb, args.heldout_mb, args.seed)
    seconds = time.perf_counter() - started
    summary = json.loads((args.work / "shares.json").read_text(encoding="utf-8"))
    total = sum(built.counts.values())
    print(f"{'class':<12} {'pages':>6} {'share':>6} {'target':>7} {'HTML MB':>8} {'text MB':>8}")
    for name, share in SHARES.items():
        print(
            f"{name:<12} {built.counts[name]:>6} {built.counts[name] / total:>6.1%} "
            f"{share:>7.0%} {summary['html_bytes'][name] / 1e6:>8.2f} "
            f"{summary['text_bytes'][name] / 1e6:>8.2f}"
        )
    print(
        f"{'all':<12} {total:>6} {'':>6} {'':>7} {sum(summary['html_bytes'].values()) / 1e6:>8.2f}"
        f" {sum(summary['text_bytes'].values()) / 1e6:>8.2f}"
    )
    sources = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in summary["clean_bytes_by_source"].items())
    print(f"clean prose: {built.clean_bytes / 1e6:.2f} MB ({sources})")
    available = summary["available"]
    print(
        f"available on this machine: {available['crawl_side_bytes'] / 1e6:.2f} MB crawl side, "
        f"{available['heldout_side_bytes'] / 1e6:.2f} MB held-out side"
    )
    print(
        f"held out: {summary['heldout_docs']} documents, {built.heldout_bytes / 1e6:.2f} MB "
        f"in {built.heldout}"
    )
    print(f"crawl: {built.crawl} ({WARC_FILES} WARC.gz files); built in {seconds:.1f} s")


if __name__ == "__main__":
    main()
