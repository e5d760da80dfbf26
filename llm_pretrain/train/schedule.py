"""Learning-rate schedules: linear warmup, then cosine decay or warmup-stable-decay.

WSD (warmup-stable-decay) holds the peak rate and decays only over the last `decay_fraction`
of training (Hu et al. 2024, MiniCPM; Hägele et al. 2024 found it matches cosine with a 20%
decay), so a run can be extended before its decay starts.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from llm_pretrain.configbase import Section


class ScheduleConfig(Section):
    kind: Literal["cosine", "wsd"] = Field("cosine", description="cosine, or warmup-stable-decay")
    warmup_steps: int = Field(100, ge=0, description="steps of linear warmup from 0 to the peak")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final rate, as a share of the peak")
    decay_fraction: float = Field(
        0.2, gt=0, le=1, description="wsd: share of the steps spent decaying (linearly)"
    )


def learning_rate(step: int, total_steps: int, peak: float, config: ScheduleConfig) -> float:
    """The rate of optimizer step `step` (0-based) of `total_steps`."""
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    floor = peak * config.min_lr_ratio
    if config.kind == "cosine":
        span = max(1, total_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_steps = max(1, round(total_steps * config.decay_fraction))
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start) / decay_steps)
    return peak + (floor - peak) * progress
