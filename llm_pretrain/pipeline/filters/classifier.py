"""Model-based filters: a fastText classifier scores each document, a threshold decides.

`llm-data train-classifier` makes the models (DCLM-style: high-quality reference text against
random crawl for quality; labelled toxic against clean text for toxicity). The quality step
rejects documents scoring below its threshold; the toxicity step those scoring above it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from llm_pretrain.errors import UsageError, must_exist
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.filters.language import LABEL_PREFIX, load_model

_SPACE = re.compile(r"\s+")


class ClassifierError(UsageError, RuntimeError):
    """A classifier step without a usable model."""


def fasttext_line(text: str, max_chars: int) -> str:
    """fastText reads one line per example: collapse whitespace, keep the head of long texts."""
    return _SPACE.sub(" ", text[:max_chars]).strip()


def label_probability(model: Any, text: str, label: str, max_chars: int) -> float:
    """The model's probability of `label` for `text` (0 when the label is not predicted)."""
    labels, scores = model.predict(fasttext_line(text, max_chars), k=-1)
    for name, score in zip(labels, scores, strict=True):
        if name == LABEL_PREFIX + label:
            return min(float(score), 1.0)
    return 0.0


class ClassifierConfig(StepConfig):
    model_path: str | None = Field(
        None, description="fastText model from `llm-data train-classifier` (required)"
    )
    label: str = Field("positive", description="the label whose probability is the score")
    threshold: float = Field(0.5, ge=0, le=1, description="score threshold of the decision")
    max_chars: int = Field(
        10000, ge=1, description="characters of each document the model reads (the head)"
    )


class QualityClassifierConfig(ClassifierConfig):
    reject: Literal["below", "above"] = Field(
        "below", description="reject documents scoring below (or above) the threshold"
    )


class ToxicityClassifierConfig(ClassifierConfig):
    reject: Literal["below", "above"] = Field(
        "above", description="reject documents scoring above (or below) the threshold"
    )


class FastTextClassifier(Step):
    """Scores into `score_column`; rejects with `rule` on the configured side of the threshold."""

    score_column: ClassVar[str]
    rule: ClassVar[str]

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__(config)
        if not config.model_path:
            raise ClassifierError(
                f"filter.{self.name}.model_path is not set: train a model with "
                "`llm-data train-classifier` and give its path"
            )
        must_exist(Path(config.model_path), f"filter.{self.name}.model_path")
        try:
            self.model = load_model(config.model_path)
        except ValueError as exc:
            raise ClassifierError(f"cannot load {config.model_path}: {exc}") from None

    def apply(self, doc: Document) -> str | None:
        config = self.config
        score = label_probability(self.model, doc.text, config.label, config.max_chars)
        doc.annotations[self.score_column] = score
        rejected = (
            score < config.threshold if config.reject == "below" else score > config.threshold
        )
        return self.rule if rejected else None


class QualityClassifier(FastTextClassifier):
    name = "quality_classifier"
    config_class = QualityClassifierConfig
    columns: ClassVar[dict[str, pa.DataType]] = {"quality_score": pa.float32()}
    score_column = "quality_score"
    rule = "low_quality"


class ToxicityClassifier(FastTextClassifier):
    name = "toxicity_classifier"
    config_class = ToxicityClassifierConfig
    columns: ClassVar[dict[str, pa.DataType]] = {"toxicity_score": pa.float32()}
    score_column = "toxicity_score"
    rule = "toxic"
