"""Speed of reading WARC files: warcio's ArchiveIterator next to FastWARC's (from resiliparse).

The input is the crawl of extract.py (`corpus_crawl.build_input`, same generator and seed, so
the same pages: 4 WARC.gz files of heavy article pages plus a 404, an image and a redirect
each), written to benchmarks/_work/warc_read. Every variant iterates all response records of
all files and reads each payload whole, `--passes` times in a row (its best pass counts), in a
process of its own (`--variant NAME`); the parent runs the variants in turn for `--rounds`
rounds (best time counts) and prints records/s and MiB/s (payload bytes, and gzipped file
bytes) with the ratio to warcio. After timing, each variant checksums its payloads (untimed),
so the table can say whether all read the same bytes. Nothing is asserted; nothing of the
package runs here.

    .venv-bench/bin/python benchmarks/warc_read.py [--pages 300] [--passes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from corpus_crawl import build_input
from harness import Column, Table, Timed, interleaved, ratio, report, run_child

WORK = Path(__file__).resolve().parent / "_work" / "warc_read"


# ---------------------------------------------------------------------------------------------
# Variants: each yields the payload of every response record of the files, as bytes
# ---------------------------------------------------------------------------------------------


def warcio_payloads(paths: list[Path]) -> Iterator[bytes]:
    """warcio as users (and our plain loops) read a crawl: a Python file object, the record
    type checked in Python, `content_stream()` (HTTP headers parsed, encodings undone)."""
    from warcio.archiveiterator import ArchiveIterator

    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    yield record.content_stream().read()


def fastwarc_payloads(paths: list[Path], own_file: bool = False) -> Iterator[bytes]:
    """FastWARC: response records only (filtered in C++), HTTP headers parsed, the payload from
    `record.reader`; from a Python file object, or (own_file) from the path, which FastWARC
    opens and reads itself."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    for path in paths:
        if own_file:
            records = ArchiveIterator(str(path), record_types=WarcRecordType.response)
            for record in records:
                yield record.reader.read()
            continue
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
                yield record.reader.read()


VARIANTS: dict[str, tuple[str, Callable[[list[Path]], Iterator[bytes]]]] = {
    "warcio": ("warcio", warcio_payloads),
    "fastwarc": ("fastwarc, file object", fastwarc_payloads),
    "fastwarc-path": ("fastwarc, path", lambda paths: fastwarc_payloads(paths, own_file=True)),
}


def run_variant(name: str, work: Path, passes: int) -> dict[str, Any]:
    """Child-process side: `passes` timed passes over all files (imports done before), then an
    untimed checksum pass."""
    read = VARIANTS[name][1]
    paths = sorted((work / "input" / "warc").glob("*.warc.gz"))
    next(read(paths[:1]), None)  # imports, outside the clock
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        records = size = 0
        for payload in read(paths):
            records += 1
            size += len(payload)
        times.append(time.perf_counter() - started)
    checksum = 0
    for payload in read(paths):
        checksum = zlib.crc32(payload, checksum)
    return {"seconds": min(times), "records": records, "bytes": size, "crc32": checksum}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

TABLE = Table(
    Column("reader", 24, left=True),
    Column("records", 8),
    Column("payload MiB", 13, ".1f"),
    Column("best s", 9, ".3f"),
    Column("worst s", 9, ".3f"),
    Column("records/s", 11, ".0f"),
    Column("payload MiB/s", 15, ".1f"),
    Column("gz MiB/s", 10, ".1f"),
    Column("vs warcio", 11),
)

NOTES = """
best s: the best pass of all rounds; records/s = records / best s; payload MiB/s: HTTP payload
bytes read per second; gz MiB/s: the WARC.gz files' bytes per second. Times exclude imports.
Ratios below ~5% are within this machine's run-to-run noise."""


def main() -> None:
    """Parent: build the input, measure, print; child (--variant): one variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="HTML pages in the crawl")
    parser.add_argument("--passes", type=int, default=10, help="passes over the files per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant; best counts")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # child process
        report(run_variant(args.variant, args.work, args.passes), args.work, args.variant)
        return
    build_input(args.work / "input", args.pages, 0)
    warcs = sorted((args.work / "input" / "warc").glob("*.warc.gz"))
    gz_mib = sum(path.stat().st_size for path in warcs) / 2**20
    print(
        f"input: {args.pages} pages in {len(warcs)} WARC.gz ({gz_mib:.1f} MiB gzipped); "
        f"best of {args.passes} pass(es) x {args.rounds} round(s)"
    )

    def run(name: str) -> dict[str, Any]:
        return run_child(__file__, name, ["--passes", str(args.passes)], work=args.work)

    progress = "  round {round}/{rounds} {name}: {seconds:.3f} s"
    results = interleaved(list(VARIANTS), args.rounds, run, progress)
    first = results["warcio"][0]
    base = Timed(first["records"], [r["seconds"] for r in results["warcio"]]).docs_per_s
    print("\nWARC reading: all response records, payloads read whole")
    TABLE.header()
    for name, (label, _) in VARIANTS.items():
        done = results[name]
        row = Timed(done[0]["records"], [result["seconds"] for result in done])
        mib = done[0]["bytes"] / 2**20
        TABLE.row(
            label, row.docs, mib, row.seconds, row.worst, row.docs_per_s, mib / row.seconds,
            gz_mib / row.seconds, f"{ratio(row.docs_per_s, base):.2f}x",
        )  # fmt: skip
    same = all(
        (result["records"], result["bytes"], result["crc32"])
        == (first["records"], first["bytes"], first["crc32"])
        for done in results.values()
        for result in done
    )
    print(f"same records and payload bytes (CRC-32) in every reader: {'yes' if same else 'NO'}")
    print(NOTES)


if __name__ == "__main__":
    main()
