"""Schedule values at known points."""

import pytest

from llm_pretrain.train.schedule import ScheduleConfig, learning_rate


def test_cosine_at_known_points():
    config = ScheduleConfig(kind="cosine", warmup_steps=10, min_lr_ratio=0.1)
    rates = [learning_rate(step, 110, 1.0, config) for step in range(110)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[10] == pytest.approx(1.0)  # the peak, where the decay starts
    assert rates[60] == pytest.approx(0.55)  # halfway: the mean of peak and floor
    assert learning_rate(110, 110, 1.0, config) == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))


def test_warmup_stable_decay_at_known_points():
    config = ScheduleConfig(kind="wsd", warmup_steps=5, min_lr_ratio=0.0, decay_fraction=0.2)
    assert learning_rate(0, 100, 2.0, config) == pytest.approx(0.4)
    assert learning_rate(4, 100, 2.0, config) == pytest.approx(2.0)
    assert learning_rate(79, 100, 2.0, config) == pytest.approx(2.0)  # still stable
    assert learning_rate(90, 100, 2.0, config) == pytest.approx(1.0)  # half way down
    assert learning_rate(100, 100, 2.0, config) == pytest.approx(0.0)


def test_no_warmup():
    config = ScheduleConfig(warmup_steps=0)
    assert learning_rate(0, 10, 1.0, config) == pytest.approx(1.0)
