"""Typed stats: adding tasks' stats gives both, shares nothing with them, and reads back from
the JSON an earlier version wrote (what it did not count is zero)."""

from __future__ import annotations

from collections import Counter

from llm_pretrain.pipeline.stats import ClusterStats, ExtractStats, FilterStats, StepCounts


def test_adding_sums_every_field_and_round_trips_through_json():
    first = ExtractStats(kept=2, rejected=Counter(a=1), formats=Counter(html=2), input_bytes=10)
    second = ExtractStats(rejected=Counter(a=2, b=1), input_errors=[{"path": "x"}], cpu_seconds=1)
    total = ExtractStats().add(first).add(second)
    assert (total.kept, total.rejected, total.input_bytes) == (2, Counter(a=3, b=1), 10)
    assert total.input_errors == [{"path": "x"}] and total.rejected_documents == 4
    assert ExtractStats.from_json(total.to_json()) == total


def test_a_total_shares_nothing_with_what_it_added():
    part = FilterStats(steps={"pii": StepCounts(seen=5, counts=Counter(email=1))})
    total = FilterStats().add(part)
    total.steps["pii"].add(StepCounts(seen=1))
    total.steps["pii"].counts["email"] += 1
    assert part.steps["pii"].seen == 5 and part.steps["pii"].counts["email"] == 1
    assert total.add(total).steps["pii"].seen == 12  # adding itself doubles


def test_what_an_earlier_version_did_not_write_reads_as_zero():
    old = {"documents": {"kept": 3, "rejected": 1}, "rejected": {"too_short": 1}}
    stats = ExtractStats.from_json(old)
    assert stats.kept == 3 and stats.kept_text_bytes == 0 and stats.skipped == Counter()
    clusters = ClusterStats.from_json({"clusters": None, "exact_duplicates": 2})
    assert clusters.clusters == 0 and clusters.add(clusters).exact_duplicates == 4
