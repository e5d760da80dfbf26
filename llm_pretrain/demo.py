"""`make demo`: build a small mixed crawl offline and run the pipeline on it.

The sample holds a gzipped WARC (with a request record per page, a 404, an image and a
redirect), loose HTML pages, and a folder of PDFs, plus a few broken inputs (an encrypted PDF,
binary junk named .html) so that the summary shows rejections with their reasons.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq

from llm_pretrain.config import load_config
from llm_pretrain.pipeline.dataset import shard_paths
from llm_pretrain.pipeline.extract.stage import run_extract
from llm_pretrain.pipeline.summary import format_summary
from llm_pretrain.samples import build_sample, write_pdf


def add_broken_inputs(folder: Path) -> None:
    import pymupdf

    locked = folder / "pdfs" / "locked.pdf"
    write_pdf(locked, "Locked", ["This report is confidential."])
    doc = pymupdf.open(locked)
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    doc.close()
    locked.write_bytes(data)
    (folder / "pages" / "not-really.html").write_bytes(bytes(range(256)) * 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("demo"))
    args = parser.parse_args()
    raw = args.workdir / "raw"
    if not raw.exists():
        build_sample(raw, pages=60, pdfs=6)
        add_broken_inputs(raw)
    output = args.workdir / "extracted"
    config = load_config(
        Path("configs/pipeline.yaml") if Path("configs/pipeline.yaml").exists() else None
    )
    summary = run_extract([str(raw)], output, config, overwrite=True)
    print(format_summary(summary, output))
    first = pq.read_table(shard_paths(output)[0]).slice(0, 1).to_pylist()[0]
    print("first document:")
    print(f"  id {first['id']}  format {first['format']}  url {first['url']}")
    print(f"  metadata {json.dumps(json.loads(first['metadata']))}")
    print(f"  text {first['text'][:300]!r}...")


if __name__ == "__main__":
    main()
