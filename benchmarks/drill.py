"""The hostile-input drill: every damaged, special and stuck input at once, in one `llm-data
extract` and one `llm-data refresh` (issue 18, cases 4, 7 and 8).

The inbox holds good inputs (pages, a PDF, a JSONL file, three crawls) and, beside them:
- a .warc.gz of 289 gzip members (143 articles, as in the report) with 20 bytes flipped inside
  member 145 (counting from 0: the response of article 72), and a copy with one byte of member
  5's CRC flipped (the response of article 2);
- an uncompressed WARC with garbage written over the middle of one record;
- a JSONL file whose records hold lone surrogates (`"\\ud800"`) in text, url and metadata;
- a page whose file name is not UTF-8; a link to itself; a FIFO named `pipe.html`;
- a page whose parser gets stuck where SIGALRM cannot reach it (no real page does that
  reliably, so the drill stands in for the parser: pages marked `drill:stuck` block SIGALRM and
  sleep, as a C extension holding the GIL would);
- a .jsonl.gz holding one 256 MiB line between two good records.

Checked: both commands exit 0 without a traceback; every good document is kept (by URL), and
every bad input has its rejected row with the expected reason; a second refresh finds nothing
new. Printed: the counts, the time and the peak memory of the command and of its workers.

    .venv/bin/python benchmarks/drill.py [--workdir benchmarks/_work/drill]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from harness import peak_rss_mb

from llm_pretrain.cli import data
from llm_pretrain.pipeline.dataset import read_table
from llm_pretrain.pipeline.extract import convert
from llm_pretrain.samples import article, warc_record_spans, write_pdf, write_warc

WORK = Path(__file__).resolve().parent / "_work" / "drill"
SETTINGS = [
    "extract.document_timeout_s=1",  # the stuck page is ended after 2 s without progress
    "executor.workers=2",
    "tokenizer.vocab_size=400",
    "tokenize.seq_len=128",
]
STUCK = "<!-- drill:stuck -->"
real_extract_page = convert.extract_page


def stuck_parser(html: str, url: str | None, config: object) -> object:
    """The parser, but stuck on the marked page where SIGALRM cannot interrupt it."""
    if STUCK in html:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    return real_extract_page(html, url, config)


def flip(path: Path, offset: int, count: int) -> None:
    """Damage a file: invert `count` bytes from `offset`."""
    data = bytearray(path.read_bytes())
    for at in range(offset, offset + count):
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def build_inbox(inbox: Path) -> tuple[set[str], Counter]:
    """The inputs; the URLs of the documents that must be kept and the rejections expected
    (file name, reason)."""
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    good: set[str] = set()
    expected: Counter = Counter()

    crawl = [article(i, seed=1) for i in range(143)]
    for name in ("mid-damage.warc.gz", "crc.warc.gz"):
        write_warc(inbox / name, crawl, deterministic=True)  # 289 members
    spans = warc_record_spans(inbox / "mid-damage.warc.gz")
    offset, length = spans[145]  # article 72's response
    flip(inbox / "mid-damage.warc.gz", offset + length // 2, 20)
    offset, length = spans[5]  # article 2's response: its CRC, 8 bytes before the member ends
    flip(inbox / "crc.warc.gz", offset + length - 8, 1)
    good |= {page.url for page in crawl if page not in (crawl[72], crawl[2])}
    good |= {crawl[72].url, crawl[2].url}  # each is whole in the other copy
    expected[("mid-damage.warc.gz", "extract_error:damaged")] += 1
    expected[("crc.warc.gz", "extract_error:damaged")] += 1

    plain = [article(i, seed=2) for i in range(200, 240)]
    write_warc(inbox / "plain.warc", plain, gzip=False, extras=False, deterministic=True)
    offset, length = warc_record_spans(inbox / "plain.warc")[41]  # article 220's response
    data = bytearray((inbox / "plain.warc").read_bytes())
    data[offset + 40 : offset + 240] = bytes(range(200))  # garbage over its headers
    (inbox / "plain.warc").write_bytes(bytes(data))
    good |= {page.url for page in plain if page is not plain[20]}
    expected[("plain.warc", "extract_error:damaged")] += 1

    pages = inbox / "pages"
    pages.mkdir()
    for i in range(300, 310):
        page = article(i, seed=3)
        (pages / f"page-{i}.html").write_text(page.html, encoding="utf-8")
        good.add(page.url)  # a loose page's URL is unknown: its text is matched instead
    write_pdf(inbox / "report.pdf", "Annual report", article(400, seed=3).paragraphs)

    text = " ".join(article(500, seed=4).paragraphs)
    records = [
        '{"text": "' + text + ' \\ud800", "url": "https://drill.example/\\udfff"}',
        json.dumps({"text": text + " plain", "url": "https://drill.example/plain"}),
        '{"text": "' + text + ' meta", "url": "https://drill.example/meta", "tag": "\\udc80"}',
    ]
    (inbox / "records.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    good |= {"https://drill.example/\\udfff", "https://drill.example/plain"}
    good.add("https://drill.example/meta")

    with open(os.fsencode(inbox) + b"/caf\xe9.html", "wb") as handle:  # not UTF-8
        handle.write(article(600, seed=5).html.encode())
    os.symlink("loop.html", inbox / "loop.html")
    os.mkfifo(inbox / "pipe.html")
    expected[("loop.html", "extract_error:unreadable")] += 1
    expected[("pipe.html", "extract_error:unreadable")] += 1
    stuck = article(700, seed=6).html.replace("</body>", f"{STUCK}</body>")
    (inbox / "stuck.html").write_text(stuck, encoding="utf-8")
    expected[("stuck.html", "extract_error:timeout")] += 1

    with gzip.open(inbox / "bomb.jsonl.gz", "wb", compresslevel=1) as handle:
        handle.write(json.dumps({"text": text, "url": "https://drill.example/before"}).encode())
        handle.write(b'\n{"text": "')
        for _ in range(16):  # 256 MiB, written 16 MiB at a time
            handle.write(b"a" * (16 << 20))
        handle.write(b'"}\n')
        handle.write(json.dumps({"text": text, "url": "https://drill.example/after"}).encode())
    good |= {"https://drill.example/before", "https://drill.example/after"}
    expected[("bomb.jsonl.gz", "extract_error:too_large")] += 1
    return good, expected


def invoke(args: list[str]) -> tuple[str, float]:
    """Run an `llm-data` command in this process; its output and seconds. Exits on failure."""
    started = time.perf_counter()
    result = CliRunner().invoke(data, args)
    seconds = time.perf_counter() - started
    if result.exit_code != 0 or "Traceback" in result.output:
        raise SystemExit(f"llm-data {args[0]} exited {result.exit_code}:\n{result.output}")
    return result.output, seconds


def check(kept: list[dict], rejected: list[dict], good: set[str], expected: Counter) -> list[str]:
    """What is wrong with the extracted dataset (nothing: an empty list)."""
    problems = []
    urls = {row["url"] for row in kept if row["url"]}
    page_texts = {article(i, seed=3).paragraphs[0][:60] for i in range(300, 310)}
    loose = {text for text in page_texts if any(text in row["text"] for row in kept)}
    missing = (good - urls) - {article(i, seed=3).url for i in range(300, 310)}
    if missing:
        problems.append(f"good documents missing: {sorted(missing)[:5]}")
    if loose != page_texts:
        problems.append(f"{len(page_texts - loose)} loose pages missing")
    if not any(row["source"].endswith("caf\\udce9.html") for row in kept):
        problems.append("the page with a non-UTF-8 name is missing")
    if not any(row["format"] == "pdf" for row in kept):
        problems.append("the PDF is missing")
    found = Counter((Path(row["source"]).name, row["reason"]) for row in rejected)
    for key, count in expected.items():
        if found[key] != count:
            problems.append(f"expected {count} rows {key}, found {found[key]}")
    return problems


def main() -> None:
    """Build the inbox, extract and refresh it, check and print what came out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=WORK)
    args = parser.parse_args()
    work = args.workdir.resolve()
    inbox = work / "inbox"
    good, expected = build_inbox(inbox)
    convert.extract_page = stuck_parser  # inherited by the forked workers
    settings = [arg for setting in SETTINGS for arg in ("--set", setting)]

    out = work / "extracted"
    shutil.rmtree(out, ignore_errors=True)
    output, seconds = invoke(["extract", "-i", str(inbox), "-o", str(out), "-q", *settings])
    kept, rejected = read_table(out).to_pylist(), read_table(out, rejected=True).to_pylist()
    problems = check(kept, rejected, good, expected)
    own, workers = peak_rss_mb(since_exec=False)
    print(f"extract: {len(kept):,} kept, {len(rejected):,} rejected in {seconds:.1f} s; "
          f"peak memory {own:,.0f} MB (command), {workers:,.0f} MB (largest worker)")  # fmt: skip
    for (name, reason), count in sorted(Counter(
        (Path(row["source"]).name, row["reason"]) for row in rejected
    ).items()):  # fmt: skip
        print(f"  rejected  {name:<22} {reason:<26} {count}")

    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    refresh = ["refresh", "-w", str(corpus), "-i", str(inbox), "-q", *settings]
    line, seconds = invoke(refresh)
    batch = json.loads((corpus / "batches" / "000001" / "batch.json").read_text())
    extract_counts = json.loads(
        (corpus / "batches" / "000001" / "extracted" / "_manifest.json").read_text()
    )["counts"]
    if extract_counts != {"documents": len(kept), "rejected": len(rejected)}:
        problems.append(f"refresh extracted {extract_counts}, extract {len(kept), len(rejected)}")
    again, _ = invoke(refresh)
    if "nothing new" not in again:
        problems.append(f"a second refresh was not empty: {again.strip()}")
    own, workers = peak_rss_mb(since_exec=False)
    print(f"refresh: {line.strip()}")
    print(f"  {len(batch['inputs'])} inputs recorded; second run: {again.strip()}")
    print(f"  peak memory so far {own:,.0f} MB (command), {workers:,.0f} MB (largest worker)")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        raise SystemExit(1)
    print(f"drill passed: every good document kept, every one of the {len(rejected)} bad inputs "
          "accounted for with its reason")  # fmt: skip


if __name__ == "__main__":
    main()
