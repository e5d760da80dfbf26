"""Cost of reading input files through our resuming URL stream, next to plain peers.

`llm_pretrain.remote.streams.open_url` (what extract reads a URL input with: retries, a dropped
download resumed by an HTTP range request or a seek in the store's file, a 1 MiB
BufferedReader) against a plain read of the same bytes, on servers this benchmark starts on
127.0.0.1 (in its own process; the readers run in others):

- local disk, the baseline: `open(path, "rb")`;
- HTTP (tests/remote/servers.py's ThreadingHTTPServer, the files in memory): ours against
  `urllib.request.urlopen(url)`; then with one injected failure per file (servers.py's
  "drop:N": the server resets the connection once, after writing half of the file; what the
  client had not read yet is lost with it): ours resumes with a range request where it
  stopped, the plain peer, which does no range resumption, reads the file again from byte 0;
- S3 (moto's ThreadedMotoServer; the AWS variables point at it): ours on `s3://bench/KEY`
  against `s3fs.S3FileSystem().open(path, "rb")` with s3fs's defaults.

Every reader reads whole files in 1 MiB chunks. Input: `--mb` MiB of the extract benchmark's
crawl (`corpus_crawl.build_input`: 4 WARC.gz files, same generator and seed), built into
benchmarks/_work/remote_read and reused while `--mb` is the same. Each variant runs in a process
of its own (`--variant NAME`): a small warm-up file first (imports, s3fs's client, and what
ours imports at its first failure; untimed), then `--passes` passes over all files (its best
pass counts), then an untimed pass that checksums every file (with its failures too, so that a
resumed file is checked whole). The parent runs the variants in turn for `--rounds` rounds
(best time counts) and prints MiB/s with the ratio to local disk and to the plain peer. Ours
runs with `storage.backoff_s: 0` (the default waits 1 s before a first retry, a politeness, not
a cost of reading).

Then a whole `llm-data extract` (`run_extract`, 1 worker, default storage settings) of a
smaller crawl (`--pages` pages, 4 WARC.gz) from a local folder, from the HTTP server through a
path list (`--input crawl.paths --base-url http://127.0.0.1:PORT/`) and from S3 (`--input
s3://bench/crawl/warc/`): seconds, pages/s and the ratio to local, and whether all three gave
the same documents. Nothing is asserted. S3 is left out when s3fs or moto is missing.

    .venv-bench/bin/python benchmarks/remote_read.py [--mb 32] [--passes 10] [--rounds 3]
                                                     [--pages 60] [--skip-extract]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from corpus_crawl import build_input
from harness import Column, Table, Timed, interleaved, ratio, report, run_child

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "_work" / "remote_read"
CHUNK = 1 << 20  # every reader reads 1 MiB at a time
GZ_BYTES_PER_PAGE = 10_700  # corpus_crawl's heavy pages, gzipped in WARC: what --mb turns into
BUCKET = "bench"
WARMUP = "warmup.bin"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


# ---------------------------------------------------------------------------------------------
# Readers: each reads one file whole, 1 MiB at a time; (bytes, CRC-32 if asked, retries)
# ---------------------------------------------------------------------------------------------

Read = Callable[[str, bool], tuple[int, int, int]]


def drain(stream: IO[bytes], check: bool) -> tuple[int, int]:
    size = crc = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if check:
            crc = zlib.crc32(chunk, crc)
    return size, crc


def read_local(path: str, check: bool) -> tuple[int, int, int]:
    with open(path, "rb") as stream:
        return (*drain(stream, check), 0)


def read_ours(url: str, check: bool) -> tuple[int, int, int]:
    """open_url: http(s) or a store; retries are its resumptions."""
    from llm_pretrain.remote.streams import open_url

    with open_url(url) as stream:
        size, crc = drain(stream, check)
        return size, crc, stream.raw.resumptions  # type: ignore[attr-defined]


def read_urllib(url: str, check: bool) -> tuple[int, int, int]:
    with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310 (loopback http)
        return (*drain(response, check), 0)


def read_urllib_restarting(url: str, check: bool) -> tuple[int, int, int]:
    """A plain loop that survives a dropped connection without range requests: it reads the
    file again from byte 0 (and checks the length, which http.client does not when a body
    ends early)."""
    restarts = 0
    while True:
        try:
            with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310
                expected = int(response.headers["Content-Length"])
                size, crc = drain(response, check)
            if size == expected:
                return size, crc, restarts
        except (OSError, http.client.HTTPException):
            pass
        restarts += 1
        if restarts > 6:
            raise OSError(f"{url}: still failing after {restarts - 1} restarts")


def read_s3fs(path: str, check: bool) -> tuple[int, int, int]:
    import s3fs

    with s3fs.S3FileSystem().open(path, "rb") as stream:  # the instance is cached by fsspec
        return (*drain(stream, check), 0)


# name -> (label, reader, where the files are, the plain peer ours is compared with)
VARIANTS: dict[str, tuple[str, Read, str, str | None]] = {
    "local": ("local disk open()", read_local, "local", None),
    "http-plain": ("http urlopen", read_urllib, "http", None),
    "http-ours": ("http open_url (ours)", read_ours, "http", "http-plain"),
    "drop-plain": ("http+drop urlopen, restart", read_urllib_restarting, "drop", None),
    "drop-ours": ("http+drop open_url (ours)", read_ours, "drop", "drop-plain"),
    "s3-plain": ("s3 s3fs.open", read_s3fs, "s3fs", None),
    "s3-ours": ("s3 open_url (ours)", read_ours, "s3", "s3-plain"),
}
S3_VARIANTS = ("s3-plain", "s3-ours")
EXTRACT: dict[str, str] = {  # name -> label
    "extract-local": "extract, local folder",
    "extract-http": "extract, http path list",
    "extract-s3": "extract, s3:// folder",
}


def raw_dir(work: Path) -> Path:
    return work / "raw" / "warc"


def crawl_dir(work: Path) -> Path:
    return work / "crawl" / "warc"


def source(where: str, key: str, work: Path, http_base: str) -> str:
    """Where a reader finds the file `key` (its path under the work folder, its path on the web
    server and its key in the bucket): a path, a URL or s3fs's bucket/key."""
    return {
        "local": str(work / key),
        "http": f"{http_base}/{key}",
        "drop": f"{http_base}/{key}",
        "s3": f"s3://{BUCKET}/{key}",
        "s3fs": f"{BUCKET}/{key}",
    }[where]


def raw_keys(work: Path) -> list[str]:
    return [f"raw/warc/{path.name}" for path in sorted(raw_dir(work).glob("*.warc.gz"))]


# ---------------------------------------------------------------------------------------------
# Child side
# ---------------------------------------------------------------------------------------------


def run_variant(name: str, work: Path, passes: int, http_base: str) -> dict[str, Any]:
    """Warm-up, `passes` timed passes over all files, then a checksum pass (untimed)."""
    from llm_pretrain.remote import stores
    from llm_pretrain.remote.config import StorageConfig

    stores.use(StorageConfig(backoff_s=0.0))
    stores.network_errors()  # what ours imports (botocore, aiohttp) at its first failure
    _, read, where, _ = VARIANTS[name]
    sources = [source(where, key, work, http_base) for key in raw_keys(work)]
    read(source(where, WARMUP, work, http_base), False)  # outside the clock
    times, retries = [], 0
    for _ in range(passes):
        started = time.perf_counter()
        size = 0
        for path in sources:
            got, _, tries = read(path, False)
            size += got
            retries += tries
        times.append(time.perf_counter() - started)
    checks = [read(path, True) for path in sources]
    return {
        "seconds": min(times),
        "files": len(sources),
        "bytes": size,
        "retries": retries / passes,
        "crc32": [crc for _, crc, _ in checks],
        "sizes": [got for got, _, _ in checks],
    }


def run_extract_variant(name: str, work: Path, http_base: str) -> dict[str, Any]:
    """run_extract of the crawl with 1 worker, timed; its documents counted (untimed)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_extract

    settings: dict[str, Any] = {"executor.workers": 1}
    if name == "extract-local":
        inputs = [str(crawl_dir(work))]
    elif name == "extract-http":
        inputs = [str(work / "crawl.paths")]
        settings["extract.base_url"] = f"{http_base}/"
    else:
        inputs = [f"s3://{BUCKET}/crawl/warc/"]
    config = load_config(None, settings)
    out = work / "out" / name
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary = run_extract(inputs, out, config, show_progress=False, overwrite=True)
    seconds = time.perf_counter() - started
    table = read_table(out)
    texts = zlib.crc32("\0".join(sorted(table.column("text").to_pylist())).encode())
    errors = summary.stats.get("input_errors", [])
    errors = len(errors) if isinstance(errors, list) else errors
    return {"seconds": seconds, "docs": table.num_rows, "text_crc32": texts, "errors": errors}


# ---------------------------------------------------------------------------------------------
# Parent side: input, servers
# ---------------------------------------------------------------------------------------------


def build(root: Path, pages: int) -> list[Path]:
    """The crawl of `pages` pages under root/warc (reused while the page count is the same)."""
    stamp = root / "stamp.json"
    wanted = {"pages": pages, "seed": 0}
    if not (stamp.exists() and json.loads(stamp.read_text()) == wanted):
        build_input(root, pages, 0)
        stamp.write_text(json.dumps(wanted))
    return sorted((root / "warc").glob("*.warc.gz"))


def have_s3() -> bool:
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError:
        return False
    return True


def serve(stack: contextlib.ExitStack, files: dict[str, bytes], s3: bool) -> Any:
    """Start the web server (and moto's S3, with the AWS variables of this process and its
    children pointing at it) holding `files` by key; the web server's WebFiles."""
    sys.path.append(str(ROOT))  # after benchmarks/: tests.remote.servers
    from tests.remote.servers import s3_server, web_server

    web = stack.enter_context(web_server())
    web.files.update(files)
    if s3:
        import s3fs

        endpoint = stack.enter_context(s3_server())
        os.environ.update(AWS, AWS_ENDPOINT_URL=endpoint)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            os.environ.pop(name, None)
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(BUCKET)
        for key, data in files.items():
            fs.pipe_file(f"{BUCKET}/{key}", data)
    return web


def served(requests: list[tuple[str, str | None]], files: dict[str, bytes], drop: bool) -> int:
    """Body bytes the web server wrote for these requests of the raw files: with `drop`, every
    other request of a file (the first of each pair) was cut after half of the file."""
    sent = 0
    seen: dict[str, int] = {}
    for key, asked in requests:
        if not key.startswith("raw/"):
            continue
        size = len(files[key])
        start = int(asked[6:].split("-", 1)[0]) if asked else 0
        count = seen[key] = seen.get(key, -1) + 1
        sent += min(size // 2, size - start) if drop and count % 2 == 0 else size - start
    return sent


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

READ_TABLE = Table(
    Column("reader", 30, left=True),
    Column("files", 6),
    Column("MiB", 7, ".1f"),
    Column("best s", 9, ".3f"),
    Column("worst s", 9, ".3f"),
    Column("MiB/s", 8, ".0f"),
    Column("vs local", 10),
    Column("vs peer", 9),
    Column("retries", 9, ".1f"),
    Column("MiB sent", 10),
)
EXTRACT_TABLE = Table(
    Column("run", 30, left=True),
    Column("docs", 6),
    Column("errors", 7),
    Column("best s", 9, ".2f"),
    Column("worst s", 9, ".2f"),
    Column("pages/s", 9, ".1f"),
    Column("vs local", 10),
)

NOTES = """
best s: the best pass of all rounds over all files (connections included, imports and the
warm-up file not); MiB/s = file bytes / best s; vs local and vs peer are speed ratios (below
1.00x: slower): to local disk, and ours to its plain peer on the row above it. retries: per
pass, ours's resumptions or the plain loop's restarts. MiB sent: body bytes the web server
wrote per pass (mean over runs). A drop is a reset after half of the file is written: what the
client had not read yet is lost with it, so where ours resumes varies (up to half of the file),
and the plain loop throws away what it had read. A pass over loopback takes tens of ms: on a
busy 2-core machine, ratios of reads moved by up to ~30% from run to run."""


def main() -> None:
    """Parent: build the input, start the servers, measure, print; child: one variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=32, help="MiB of WARC.gz to read")
    parser.add_argument("--passes", type=int, default=10, help="passes over the files per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant; best counts")
    parser.add_argument("--pages", type=int, default=60, help="pages of the extract crawl")
    parser.add_argument("--skip-extract", action="store_true", help="the read table alone")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--http", default="", help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=[*VARIANTS, *EXTRACT], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant in EXTRACT:
        report(run_extract_variant(args.variant, args.work, args.http), args.work, args.variant)
        return
    if args.variant:
        result = run_variant(args.variant, args.work, args.passes, args.http)
        report(result, args.work, args.variant)
        return

    pages = max(4, round(args.mb * 2**20 / GZ_BYTES_PER_PAGE))
    raw = build(raw_dir(args.work).parent, pages)
    crawl = build(crawl_dir(args.work).parent, args.pages) if not args.skip_extract else []
    (args.work / WARMUP).write_bytes(bytes(range(256)) * 256)
    keys = [WARMUP, *(str(path.relative_to(args.work)) for path in (*raw, *crawl))]
    files = {key: (args.work / key).read_bytes() for key in keys}
    (args.work / "crawl.paths").write_text(
        "".join(f"{key}\n" for key in keys if key.startswith("crawl/"))
    )
    s3 = have_s3()
    mib = sum(len(data) for key, data in files.items() if key.startswith("raw/")) / 2**20
    print(
        f"input: {pages} pages in {len(raw)} WARC.gz ({mib:.1f} MiB) to read, best of "
        f"{args.passes} pass(es) x {args.rounds} round(s); extract: "
        + ("skipped" if args.skip_extract else f"{args.pages} pages in {len(crawl)} WARC.gz")
        + ("" if s3 else "; S3 left out (no s3fs or moto here)")
    )
    names = [name for name in VARIANTS if s3 or name not in S3_VARIANTS]
    extracts = [name for name in EXTRACT if s3 or name != "extract-s3"]

    with contextlib.ExitStack() as stack:
        web = serve(stack, files, s3)
        faults_left = 0

        def run(name: str) -> dict[str, Any]:
            nonlocal faults_left
            keys = raw_keys(args.work)
            if VARIANTS[name][2] == "drop":  # one reset half-way per file and pass: the next
                for key in keys:  # request of the file (the resumption or restart) is served
                    fault = f"drop:{len(files[key]) // 2}"
                    web.faults[key] = [fault, ""] * (args.passes + 1)
            options = ["--passes", str(args.passes), "--http", web.base]
            before = len(web.requests)
            result = run_child(__file__, name, options, work=args.work)
            if VARIANTS[name][2] in ("http", "drop"):
                sent = served(web.requests[before:], files, VARIANTS[name][2] == "drop")
                result["sent"] = sent / (args.passes + 1)
            faults_left += sum(len(web.faults.get(key, [])) for key in keys)
            for key in keys:
                web.faults.pop(key, None)
            return result

        progress = "  round {round}/{rounds} {name}: {seconds:.3f} s"
        results = interleaved(names, args.rounds, run, progress)
        extracted = {}
        if not args.skip_extract:

            def extract(name: str) -> dict[str, Any]:
                return run_child(__file__, name, ["--http", web.base], work=args.work)

            extracted = interleaved(extracts, args.rounds, extract, progress)

    timed = {name: Timed(len(raw), [r["seconds"] for r in results[name]]) for name in names}
    print("\nReading whole files, 1 MiB at a time")
    READ_TABLE.header()
    for name in names:
        label, _, _, peer = VARIANTS[name]
        first = results[name][0]
        row = timed[name]
        speed = ratio(timed["local"].seconds, row.seconds)
        versus = f"{ratio(timed[peer].seconds, row.seconds):.2f}x" if peer else ""
        retries = max(result["retries"] for result in results[name])
        sent = [result["sent"] / 2**20 for result in results[name] if "sent" in result]
        READ_TABLE.row(
            label, row.docs, first["bytes"] / 2**20, row.seconds, row.worst,
            first["bytes"] / 2**20 / row.seconds, f"{speed:.2f}x", versus, retries,
            f"{sum(sent) / len(sent):.1f}" if sent else "",
        )  # fmt: skip
    reference = (results["local"][0]["sizes"], results["local"][0]["crc32"])
    same = all(
        (result["sizes"], result["crc32"]) == reference
        for done in results.values()
        for result in done
    )
    print(f"same bytes (size and CRC-32 of every file) in every reader: {'yes' if same else 'NO'}")
    print(f"injected drops all used: {'yes' if not faults_left else f'NO ({faults_left} left)'}")
    print(NOTES)
    if not extracted:
        return

    docs = extracted["extract-local"][0]["docs"]
    base = Timed(docs, [r["seconds"] for r in extracted["extract-local"]])
    print(f"\nllm-data extract, 1 worker, {args.pages} pages in {len(crawl)} WARC.gz")
    EXTRACT_TABLE.header()
    for name in extracts:
        done = extracted[name]
        row = Timed(args.pages, [r["seconds"] for r in done])
        EXTRACT_TABLE.row(
            EXTRACT[name], done[0]["docs"], done[0]["errors"], row.seconds, row.worst,
            row.docs_per_s, f"{ratio(base.seconds, row.seconds):.2f}x",
        )  # fmt: skip
    first = extracted["extract-local"][0]
    same = all(
        (r["docs"], r["text_crc32"]) == (first["docs"], first["text_crc32"])
        for done in extracted.values()
        for r in done
    )
    print(f"same documents (count and texts) from every source: {'yes' if same else 'NO'}")
    print("best s: the run_extract call (imports excluded); vs local: speed ratio to local.")


if __name__ == "__main__":
    main()
