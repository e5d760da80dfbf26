"""Input formats: one class each (the suffixes it claims, whether a file holds many documents,
how a file's records are read), registered in `FORMATS`, the one table that discovery, task
planning, the extract stage and `--input`'s help read.

Adding a format is a class here and its reader (a module of this package); settings it needs
go into a section of `ExtractConfig` (as `html` and `pdf`). A reader is imported by `reader()`,
not with this table, so that discovery (`llm-data status`) does not load trafilatura or
pymupdf; the extract stage loads them all in the parent first (`load_readers`), so that a
missing library fails at once, and workers start with them imported.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from llm_pretrain.pipeline.documents import Document, Rejected, Skipped
    from llm_pretrain.pipeline.extract.config import ExtractConfig
    from llm_pretrain.pipeline.extract.input_file import InputFile

    Outcome = Document | Rejected | Skipped
    # A generator: the stage closes it when it stops reading a file early.
    Reader = Callable[[InputFile, ExtractConfig], Generator[Outcome, None, None]]


class InputFormat:
    """A kind of input file. `name` is its `InputFile.kind` and its documents' `format`."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]  # matched case-insensitively, the longest one wins
    container: ClassVar[bool] = False  # many documents in one file: a task (and shard) of its own

    def reader(self) -> Reader:
        """The function that reads a file of this format (importing it)."""
        raise NotImplementedError

    def read(self, file: InputFile, config: ExtractConfig) -> Generator[Outcome, None, None]:
        """Each record's outcome: a document, a rejection with its reason, or a skip."""
        return self.reader()(file, config)


class Warc(InputFormat):
    """Web crawls: HTML and PDF responses, and WET text records (pipeline/extract/warc.py)."""

    name = "warc"
    suffixes = (".warc.wet.gz", ".warc.gz", ".warc", ".wet.gz", ".wet")
    container = True

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.warc import read_warc

        return read_warc


class Html(InputFormat):
    """One web page per file; main text by trafilatura (`extract.html`)."""

    name = "html"
    suffixes = (".html.gz", ".htm.gz", ".html", ".htm", ".xhtml")

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.convert import html_filler
        from llm_pretrain.pipeline.extract.files import read_document

        return lambda file, config: read_document(
            file, config, lambda raw: html_filler(raw, None, config)
        )


class Pdf(InputFormat):
    """One PDF per file; text by pymupdf (`extract.pdf`)."""

    name = "pdf"
    suffixes = (".pdf",)

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.convert import pdf_filler
        from llm_pretrain.pipeline.extract.files import read_document

        return lambda file, config: read_document(file, config, lambda raw: pdf_filler(raw, config))


class Text(InputFormat):
    """Plain text or Markdown, one document per file, in any charset (detected)."""

    name = "text"
    suffixes = (".txt.gz", ".txt", ".md")

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.convert import text_filler
        from llm_pretrain.pipeline.extract.files import read_document

        return lambda file, config: read_document(file, config, text_filler)


class Jsonl(InputFormat):
    """Documents already extracted: one JSON object per line (`extract.text_field`)."""

    name = "jsonl"
    suffixes = (".jsonl.gz", ".jsonl", ".ndjson")
    container = True

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.files import read_jsonl

        return read_jsonl


class Parquet(InputFormat):
    """Documents already extracted: one row each (`extract.text_field`)."""

    name = "parquet"
    suffixes = (".parquet",)
    container = True

    def reader(self) -> Reader:
        from llm_pretrain.pipeline.extract.files import read_parquet

        return read_parquet


FORMATS: dict[str, InputFormat] = {
    format.name: format for format in (Warc(), Html(), Pdf(), Text(), Jsonl(), Parquet())
}
# Longest suffix first: `.warc.wet.gz` must win over `.gz`.
_BY_SUFFIX = sorted(
    ((suffix, format) for format in FORMATS.values() for suffix in format.suffixes),
    key=lambda pair: -len(pair[0]),
)


def format_of(path: str) -> InputFormat | None:
    """The format a file's name claims, or None (the file is reported as unsupported)."""
    lower = path.lower()
    return next((format for suffix, format in _BY_SUFFIX if lower.endswith(suffix)), None)


def load_readers() -> None:
    """Import every format's reader now (in the parent, before workers start)."""
    for format in FORMATS.values():
        format.reader()


def suffixes_help() -> str:
    """The suffixes every format claims, for `--input`'s help."""
    return ", ".join(suffix for format in FORMATS.values() for suffix in format.suffixes)
