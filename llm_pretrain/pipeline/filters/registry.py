"""The known filter steps by name; adding a step means one module, one line here, one config
field in `FilterConfig`."""

from __future__ import annotations

from typing import Any

from llm_pretrain.pipeline.filters.base import Step
from llm_pretrain.pipeline.filters.blocklist import UrlBlocklist, WordBlocklist
from llm_pretrain.pipeline.filters.c4 import C4Quality
from llm_pretrain.pipeline.filters.classifier import QualityClassifier, ToxicityClassifier
from llm_pretrain.pipeline.filters.decontaminate import Decontaminate
from llm_pretrain.pipeline.filters.fineweb import FineWebQuality
from llm_pretrain.pipeline.filters.gopher import GopherQuality, GopherRepetition
from llm_pretrain.pipeline.filters.language import LanguageId
from llm_pretrain.pipeline.filters.pii import PiiMasking

STEP_CLASSES: dict[str, type[Step]] = {
    cls.name: cls
    for cls in (
        LanguageId,
        GopherRepetition,
        GopherQuality,
        C4Quality,
        FineWebQuality,
        QualityClassifier,
        WordBlocklist,
        UrlBlocklist,
        ToxicityClassifier,
        PiiMasking,
        Decontaminate,
    )
}


def build_steps(config: Any) -> list[Step]:
    """Instantiate `config.steps` in order, each with its own config section."""
    return [STEP_CLASSES[name](getattr(config, name)) for name in config.steps]
