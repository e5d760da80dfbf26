"""The statistics of the stages as types: what a task counts, what `_stats.json` holds.

A task of a document stage returns one of these (as JSON in its done-marker); the runner adds
the tasks' up (`add`); `_stats.json` holds `to_json()`, in the shape it has always had; the
summary and the report read it back with `from_json`, which takes what an earlier version left
out as zero. Timings and rates (not additive) stay plain JSON beside them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Self


def _added(mine: Any, theirs: Any) -> Any:
    """The sum of two values of a stats field, sharing no mutable part with either."""
    if isinstance(mine, Counter):  # update, not +: a count of 0 stays a key
        total = Counter(mine)
        total.update(theirs)
        return total
    if isinstance(mine, list):
        return [*mine, *theirs]
    if isinstance(mine, dict):
        merged = {key: _copy(value) for key, value in mine.items()}
        for key, value in theirs.items():
            merged[key] = _added(merged[key], value) if key in merged else _copy(value)
        return merged
    if isinstance(mine, Additive):
        return type(mine)().add(mine).add(theirs)
    return mine + theirs


def _copy(value: Any) -> Any:
    if isinstance(value, Additive):
        return type(value)().add(value)
    if isinstance(value, Counter | list | dict):
        return _added(type(value)(), value)
    return value


@dataclass
class Additive:
    """Stats where adding those of two tasks (or two batches) gives those of both."""

    def add(self, other: Self) -> Self:
        for item in fields(self):
            setattr(self, item.name, _added(getattr(self, item.name), getattr(other, item.name)))
        return self


@dataclass
class StepCounts(Additive):
    """One filter step: documents it saw, skipped as not for it, rejected per rule, and its
    own counters (PII matches per type, languages detected...)."""

    seen: int = 0
    not_applicable: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.rules.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "not_applicable": self.not_applicable,
            "rejected": self.rejected,
            "rules": dict(self.rules),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepCounts:
        return cls(
            data.get("seen", 0),
            data.get("not_applicable", 0),
            Counter(data.get("rules", {})),
            Counter(data.get("counts", {})),
        )


@dataclass
class DocumentStats(Additive):
    """What every document stage counts: documents kept and rejected (per reason), their text
    bytes, the input bytes read, CPU time."""

    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # documents per reason
    kept_text_bytes: int = 0
    rejected_text_bytes: Counter[str] = field(default_factory=Counter)  # per reason
    input_bytes: int = 0
    cpu_seconds: float = 0.0

    @property
    def rejected_documents(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> dict[str, Any]:
        text_bytes = {"kept": self.kept_text_bytes, "rejected": dict(self.rejected_text_bytes)}
        return {
            "documents": {"kept": self.kept, "rejected": self.rejected_documents},
            "rejected": dict(self.rejected),
            "text_bytes": text_bytes,
            "input_bytes": self.input_bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        text_bytes = data.get("text_bytes", {})
        return cls(
            kept=data.get("documents", {}).get("kept", 0),
            rejected=Counter(data.get("rejected", {})),
            kept_text_bytes=text_bytes.get("kept", 0),
            rejected_text_bytes=Counter(text_bytes.get("rejected", {})),
            input_bytes=data.get("input_bytes", 0),
            cpu_seconds=data.get("cpu_seconds", 0.0),
            **cls._own_from_json(data),
        )

    @classmethod
    def _own_from_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The fields a subclass adds, from its keys of `data`."""
        return {}


@dataclass
class ExtractStats(DocumentStats):
    """Extract also counts records skipped (not documents), documents per format, and the
    inputs it could not read (path, error, records read before)."""

    skipped: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    input_errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        own = {"skipped": dict(self.skipped), "formats": dict(self.formats)}
        return {**super().to_json(), **own, "input_errors": self.input_errors}

    @classmethod
    def _own_from_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "skipped": Counter(data.get("skipped", {})),
            "formats": Counter(data.get("formats", {})),
            "input_errors": list(data.get("input_errors", [])),
        }


@dataclass
class FilterStats(DocumentStats):
    """Filter also counts, per step, what `StepCounts` holds."""

    steps: dict[str, StepCounts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        steps = {name: counts.to_json() for name, counts in self.steps.items()}
        return {**super().to_json(), "steps": steps}

    @classmethod
    def _own_from_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        steps = data.get("steps", {})
        return {"steps": {name: StepCounts.from_json(step) for name, step in steps.items()}}


@dataclass
class DedupStats(DocumentStats):
    """Dedup also counts what line dedup removed from the documents it kept: units, their
    UTF-8 bytes, and the documents changed (documents it left too short are rejections)."""

    units_removed: int = 0
    unit_bytes_removed: int = 0
    documents_changed: int = 0

    def to_json(self) -> dict[str, Any]:
        lines = {
            "units_removed": self.units_removed,
            "unit_bytes_removed": self.unit_bytes_removed,
            "documents_changed": self.documents_changed,
        }
        return {**super().to_json(), "lines": lines}

    @classmethod
    def _own_from_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        lines = data.get("lines", {})
        return {
            "units_removed": lines.get("units_removed", 0),
            "unit_bytes_removed": lines.get("unit_bytes_removed", 0),
            "documents_changed": lines.get("documents_changed", 0),
        }


@dataclass
class ClusterStats(Additive):
    """Dedup's global step: duplicates found, clusters and their sizes (power-of-two buckets,
    "2", "3-4", "5-8"...), candidate and verified pairs. Under `dedup` in `_stats.json`, beside
    its timings and memory; read here, written by clusters.py and partitioned.py (which leave
    out the pair counts when near-dedup is off)."""

    exact_duplicates: int = 0
    near_duplicates: int = 0
    duplicates_of_index: int = 0
    clusters: int = 0
    cluster_sizes: Counter[str] = field(default_factory=Counter)
    candidate_pairs: int = 0
    verified_pairs: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterStats:
        names = [item.name for item in fields(cls)]
        values = {name: data[name] for name in names if data.get(name) is not None}
        values["cluster_sizes"] = Counter(values.get("cluster_sizes") or {})
        return cls(**values)


@dataclass
class TokenizeStats(Additive):
    """Tokenize: documents and tokens (one end-of-text id per document), their text bytes,
    documents without text, and documents per length (power-of-two buckets of tokens)."""

    documents: int = 0
    tokens: int = 0
    text_bytes: int = 0
    empty_documents: int = 0
    tokens_per_document: Counter[str] = field(default_factory=Counter)
    tokens_per_language: Counter[str] = field(default_factory=Counter)  # end-of-text ids included

    def to_json(self) -> dict[str, Any]:
        by_length = sorted(self.tokens_per_document.items(), key=lambda kv: int(kv[0]))
        return {
            "documents": self.documents,
            "tokens": self.tokens,
            "text_bytes": self.text_bytes,
            "empty_documents": self.empty_documents,
            "tokens_per_document": dict(by_length),
            "tokens_per_language": dict(self.tokens_per_language.most_common()),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenizeStats:
        return cls(
            data.get("documents", 0),
            data.get("tokens", 0),
            data.get("text_bytes", 0),
            data.get("empty_documents", 0),
            Counter(data.get("tokens_per_document", {})),
            Counter(data.get("tokens_per_language", {})),
        )

    @property
    def bytes_per_token(self) -> float | None:
        """Text bytes per token of text (the end-of-text ids are not text)."""
        text_tokens = self.tokens - self.documents
        return round(self.text_bytes / text_tokens, 4) if text_tokens > 0 else None
