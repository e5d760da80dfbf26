"""The dataset stages in pipeline order, and the folder each one's output has in a chain's
work folder and in a refresh batch: one table for the command line, refresh, the report and
the demo (it was written out in four places)."""

from __future__ import annotations

STAGE_FOLDERS = {
    "extract": "extracted",
    "filter": "filtered",
    "dedup": "deduped",
    "tokenize": "tokens",
}
# The stages whose output is documents (tokenize writes token shards).
DOCUMENT_STAGES = ("extract", "filter", "dedup")
