"""Web pages and PDFs for the extract and scale benchmarks, made offline by `llm_pretrain.samples`.

- extract.py: heavy article pages (~50-150 KB: mega-menus, JSON-LD and tag-manager scripts,
  deep wrappers, comments, related cards, sitemap footers) in WARC.gz files, multi-page PDFs,
  and the ground truth of both (the generator's paragraphs);
- scale.py: plain sample pages as loose HTML files.
"""

from __future__ import annotations

import html
import json
import random
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_pretrain.samples import Article

WARC_FILES = 4  # one WARC is one task of ours: 4 lets 2 workers split the crawl evenly

_MENU_WORDS = [
    "World",
    "Politics",
    "Business",
    "Markets",
    "Tech",
    "Science",
    "Health",
    "Sport",
    "Football",
    "Tennis",
    "Culture",
    "Books",
    "Film",
    "Music",
    "Travel",
    "Food",
    "Opinion",
    "Weather",
    "Video",
    "Podcasts",
    "Puzzles",
    "Newsletters",
    "Archive",
    "Events",
    "Jobs",
]
_COMMENTS = [
    "Great piece, thanks for sharing this with us.",
    "I completely disagree with the author here.",
    "Does anyone know where the original report can be found?",
    "First!",
    "This is exactly what happened in my town last year.",
    "Subscribed just to say well done.",
    "Fake news as usual, nobody checks the sources anymore.",
    "Brilliant photos, who took them?",
]
_SCRIPT = (
    "(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),"
    "event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;"
    "j.src='/gtm.js?id='+i;f.parentNode.insertBefore(j,f);})(window,document,'script',"
    "'dataLayer','GTM-%d');\n"
)


def _mega_menu(rng: random.Random) -> str:
    """A header navigation of 6-25 sections with 12-18 links each, descriptions included."""
    sections = []
    for section in rng.sample(_MENU_WORDS, rng.randint(6, 25)):
        links = "".join(
            f'<li class="menu-item"><a class="menu-link" href="/{section.lower()}/{k}" '
            f'data-track="nav-{section.lower()}-{k}"><span>{section} {rng.choice(_MENU_WORDS)}'
            f"</span><small>Latest {section.lower()} news and analysis</small></a></li>"
            for k in range(rng.randint(12, 18))
        )
        sections.append(
            f'<li class="menu-section"><button aria-expanded="false">{section}</button>'
            f'<div class="mega-panel"><div class="mega-inner"><ul class="menu-list">{links}'
            f"</ul></div></div></li>"
        )
    return f'<nav class="mega-menu" role="navigation"><ul>{"".join(sections)}</ul></nav>'


def _head_extras(rng: random.Random, title: str, date: str) -> str:
    """JSON-LD, tag-manager and ad scripts, a style block: what real pages carry in <head>."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "datePublished": date,
        "author": {"@type": "Person", "name": "Staff Writer"},
        "publisher": {"@type": "Organization", "name": "Example News"},
        "breadcrumb": [
            {"@type": "ListItem", "position": k, "name": w}
            for k, w in enumerate(rng.sample(_MENU_WORDS, 8))
        ],
    }
    scripts = "".join(_SCRIPT % rng.randint(1000, 9999) for _ in range(rng.randint(10, 120)))
    styles = "".join(
        f".c{k}{{margin:{k % 7}px;padding:{k % 5}px;color:#{k * 99 % 4096:03x}}}"
        for k in range(300)
    )
    return (
        f'<script type="application/ld+json">{json.dumps(ld)}</script>\n'
        f"<script>{scripts}</script>\n<style>{styles}</style>\n"
    )


def _comments(rng: random.Random) -> str:
    """A comment section of 5-50 readers' comments (boilerplate trafilatura must drop)."""
    items = "".join(
        f'<li class="comment"><div class="comment-meta"><a href="/user/{k}">reader{k}</a> '
        f'<time>{rng.randint(1, 59)} minutes ago</time></div><div class="comment-body"><p>'
        f'{html.escape(rng.choice(_COMMENTS))}</p></div><div class="comment-actions">'
        f"<button>Reply</button><button>Like ({rng.randint(0, 99)})</button></div></li>"
        for k in range(rng.randint(5, 50))
    )
    return f'<section id="comments" class="comments"><h2>Comments</h2><ol>{items}</ol></section>'


def _related(rng: random.Random, objects: list[str]) -> str:
    """10-45 cards of related stories, with pictures and headlines."""
    cards = "".join(
        f'<div class="card"><div class="card-media"><img src="/img/{k}.jpg" alt=""></div>'
        f'<div class="card-body"><a href="/story/{rng.randint(1, 99999)}"><h4>'
        f"{html.escape(rng.choice(objects).capitalize())}</h4></a><p>{rng.choice(_MENU_WORDS)}"
        f" &middot; {rng.randint(2, 9)} min read</p></div></div>"
        for k in range(rng.randint(10, 45))
    )
    return f'<section class="related"><h3>More from Example News</h3>{cards}</section>'


def _sitemap_footer(rng: random.Random) -> str:
    """A footer sitemap of 12 columns of links and a newsletter form."""
    columns = "".join(
        f'<div class="col"><h5>{word}</h5><ul>'
        + "".join(f'<li><a href="/{word.lower()}/{k}">{word} {k}</a></li>' for k in range(12))
        + "</ul></div>"
        for word in rng.sample(_MENU_WORDS, 12)
    )
    return (
        f'<div class="sitemap">{columns}</div><form class="newsletter"><input type="email">'
        "<button>Sign up to our daily newsletter</button></form>"
    )


def _wrappers(depth: int) -> str:
    """Nested layout divs: the depth of real pages' DOMs."""
    return "".join(f'<div class="wrap-{k} layout-col">' for k in range(depth))


def _splice(page: str, marker: str, replacement: str) -> str:
    """The page with `marker` replaced once; fails loudly when samples.article() changed."""
    if marker not in page:
        raise RuntimeError(f"llm_pretrain.samples.article() no longer contains {marker!r}")
    return page.replace(marker, replacement, 1)


def heavy_page(index: int, seed: int) -> Article:
    """A sample article wrapped in real-world boilerplate: ~50-150 KB and a deep, wide DOM."""
    from llm_pretrain import samples

    item = samples.article(index, seed)
    rng = random.Random(f"heavy-{seed}-{index}")
    depth = rng.randint(8, 20)
    page = _splice(item.html, "</head>", _head_extras(rng, item.title, item.date) + "</head>")
    page = _splice(page, "</nav></header>", f"</nav>{_mega_menu(rng)}</header>")
    page = _splice(page, "<main><article>", f"<main>{_wrappers(depth)}<article>")
    page = _splice(page, "</article>", "</article>" + _comments(rng) + "</div>" * depth)
    page = _splice(
        page, '<aside class="sidebar">', '<aside class="sidebar">' + _related(rng, samples._OBJECTS)
    )
    page = _splice(page, "<footer>", "<footer>" + _sitemap_footer(rng))
    return replace(item, html=page)


def build_input(root: Path, pages: int, pdfs: int, seed: int = 0) -> dict[str, list[str]]:
    """Write the WARCs and PDFs; return ground truth paragraphs by URL (pages) and by PDF path."""
    from llm_pretrain import samples

    shutil.rmtree(root, ignore_errors=True)
    built = [heavy_page(i, seed) for i in range(pages)]
    for part in range(WARC_FILES):
        warc = root / "warc" / f"crawl-{part:02d}.warc.gz"
        samples.write_warc(warc, built[part::WARC_FILES], extras=True)
    truth = {p.url: p.paragraphs for p in built}
    rng = random.Random(f"pdf-{seed}")
    for index in range(pdfs):
        paragraphs = [
            samples.paragraph(rng, rng.randint(10, 20)) for _ in range(rng.randint(20, 60))
        ]
        path = root / "pdf" / f"report-{index:03d}.pdf"
        samples.write_pdf(path, f"Report {index}", paragraphs)
        truth[str(path)] = paragraphs
    (root / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return truth


def pdf_pages(folder: Path) -> int:
    """Pages over all PDFs of the folder."""
    import pymupdf

    total = 0
    for path in folder.glob("*.pdf"):
        with pymupdf.open(path) as doc:
            total += doc.page_count
    return total


def sample_pages(folder: Path, count: int, seed: int = 11) -> int:
    """`count` sample article pages as loose HTML files; their bytes."""
    from llm_pretrain.samples import article

    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for index in range(count):
        page = folder / f"page-{index:05d}.html"
        page.write_text(article(index, seed=seed).html, encoding="utf-8")
        size += page.stat().st_size
    return size
