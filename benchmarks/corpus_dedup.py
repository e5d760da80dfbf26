"""The dedup benchmark's corpus: synthetic prose with planted near-duplicates whose true
Jaccard similarity with their source is known exactly.

- base documents: 300-800 words from a Zipf-distributed vocabulary of ~50,000 made-up
  pronounceable words, in sentences and paragraphs; a few percent end with one of three shared
  boilerplate footers, which must not make them duplicates;
- planted copies of ~10% of them: exact, whitespace/case-only, and edited (substitutions,
  insertions, deletions, a moved paragraph) aimed at true Jaccard similarities over 0.5-1.0,
  computed on the sets of word 5-grams of the normalised texts (our normalisation).

Written as JSONL files with the ground truth beside them, made into our dataset by
`run_extract`, and kept while the key (generator version, documents, seed, files) is the same.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import extract_jsonl

CORPUS_VERSION = 2  # bump when the generator changes: a cached corpus is then rebuilt
NGRAM = 5
COPY_SHARE = 0.10  # planted copies per base document
COPY_WINDOW = 2000  # a copy comes at most this many base documents after its source
FOOTER_SHARE = 0.03  # base documents that end with a shared boilerplate footer
MIN_WORDS, MAX_WORDS = 300, 800
VOCABULARY = 50_000

FOOTERS = [
    "This story was produced by the Northfield Press Service and is shared with member papers "
    "under licence. All rights reserved. Reproduction without written permission is prohibited.",
    "Sign up for our weekly newsletter to receive the latest stories in your inbox. You can "
    "unsubscribe at any time by following the link at the bottom of every message.",
    "Comments are moderated and may take up to a day to appear. Please keep the discussion "
    "civil and on topic, and read our community guidelines before you post.",
]

# made-up words: syllables of an onset, a nucleus and a coda
ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fl gr pl pr st tr sh ch th sk sl sp".split()
NUCLEI = "a e i o u ai ea ou io ee oo au".split()
CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "k", "nd", "st", "rn", "x"]
PUNCTUATION = ",;:.?!"


@dataclass
class Vocabulary:
    """Made-up words, most frequent first, and cumulative Zipf weights (for rng.choices)."""

    words: list[str]
    cum_weights: list[float]

    def draw(self, rng: random.Random, count: int) -> list[str]:
        """`count` words drawn by frequency (with replacement)."""
        return rng.choices(self.words, cum_weights=self.cum_weights, k=count)


def make_vocabulary(rng: random.Random, size: int = VOCABULARY) -> Vocabulary:
    """`size` distinct pronounceable words of 1-4 syllables; shorter words get the frequent
    ranks (as in real languages); Zipf-Mandelbrot weights 1 / (rank + 2.7)^1.05."""
    syllables = [o + n + c for o in ["", *ONSETS] for n in NUCLEI for c in CODAS]
    found: dict[str, int] = {}
    while len(found) < size:
        count = rng.choices((1, 2, 3, 4), weights=(1, 8, 8, 3))[0]
        word = "".join(rng.choice(syllables) for _ in range(count))
        if len(word) > 1:
            found.setdefault(word, count)
    ranked = sorted(found, key=lambda w: (found[w], rng.random()))
    weights, total = [], 0.0
    for rank in range(len(ranked)):
        total += 1.0 / (rank + 2.7) ** 1.05
        weights.append(total)
    return Vocabulary(ranked, weights)


Paragraphs = list[list[str]]  # a document as paragraphs of tokens (words with punctuation)


def base_document(rng: random.Random, vocabulary: Vocabulary) -> Paragraphs:
    """300-800 words in sentences of 5-24 words (commas inside, a full stop, question or
    exclamation mark at the end) and paragraphs of 3-7 sentences."""
    total = rng.randint(MIN_WORDS, MAX_WORDS)
    words = vocabulary.draw(rng, total)
    paragraphs: Paragraphs = []
    paragraph: list[str] = []
    sentences_left = rng.randint(3, 7)
    start = 0
    while start < total:
        size = min(rng.randint(5, 24), total - start)
        sentence = words[start : start + size]
        start += size
        sentence[0] = sentence[0].capitalize()
        for i in range(size - 1):
            if rng.random() < 0.08:
                sentence[i] += rng.choice(",,,;:")
        sentence[-1] += rng.choices(".?!", weights=(85, 8, 7))[0]
        paragraph.extend(sentence)
        sentences_left -= 1
        if not sentences_left:
            paragraphs.append(paragraph)
            paragraph, sentences_left = [], rng.randint(3, 7)
    if paragraph:
        paragraphs.append(paragraph)
    return paragraphs


def render(paragraphs: Paragraphs) -> str:
    """The document's text: tokens joined by spaces, paragraphs by blank lines."""
    return "\n\n".join(" ".join(tokens) for tokens in paragraphs if tokens)


def shingle_set(text: str) -> set[tuple[str, ...]]:
    """Word 5-grams of the normalised text, as our MinHash takes them (a text of fewer than 5
    words is one shingle)."""
    from llm_pretrain.config import load_config
    from llm_pretrain.pipeline.dedup.normalize import normalize

    global _NORMALIZE
    if _NORMALIZE is None:
        _NORMALIZE = load_config(None).dedup.minhash.normalize
    words = normalize(text, _NORMALIZE).split()
    if len(words) < NGRAM:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(NGRAM)), strict=False))


_NORMALIZE: Any = None


def jaccard(left: set, right: set) -> float:
    """The true Jaccard similarity of two shingle sets (two empty ones: 1)."""
    union = len(left | right)
    return len(left & right) / union if union else 1.0


# --- planted copies ---------------------------------------------------------------------------

Edit = tuple[str, float, float, str]  # kind, two uniform numbers, a word


def edit_plan(rng: random.Random, vocabulary: Vocabulary, words: int, paragraphs: int) -> list:
    """A random sequence of edits (a moved paragraph first, sometimes, then substitutions,
    insertions and deletions at random places); a prefix of it makes the copy."""
    plan: list[Edit] = []
    if paragraphs >= 2 and rng.random() < 0.6:
        plan.append(("move", rng.random(), rng.random(), ""))
    kinds = rng.choices(("sub", "ins", "del"), weights=(50, 25, 25), k=words // 2)
    for kind, word in zip(kinds, vocabulary.draw(rng, len(kinds)), strict=True):
        plan.append((kind, rng.random(), rng.random(), word))
    return plan


def _split_punctuation(token: str) -> tuple[str, str]:
    """A token's word and its trailing punctuation, so that a substitute keeps the latter."""
    stripped = token.rstrip(PUNCTUATION)
    return stripped, token[len(stripped) :]


def apply_edits(paragraphs: Paragraphs, plan: list[Edit]) -> Paragraphs:
    """A copy of the document with the plan's edits made, in order."""
    result = [list(tokens) for tokens in paragraphs]
    for kind, u, v, word in plan:
        if kind == "move":
            source = int(u * len(result))
            target = int(v * (len(result) - 1))
            target += target >= source
            result.insert(target, result.pop(source))
            continue
        sizes = [len(tokens) for tokens in result]
        position = int(u * sum(sizes))
        index = 0
        while position >= sizes[index]:
            position -= sizes[index]
            index += 1
        tokens = result[index]
        if kind == "sub":
            old, mark = _split_punctuation(tokens[position])
            tokens[position] = (word.capitalize() if old[:1].isupper() else word) + mark
        elif kind == "ins":
            tokens.insert(position, word + ("," if v > 0.85 else ""))
        elif len(tokens) > 1:
            del tokens[position]
    return result


def edited_copy(
    paragraphs: Paragraphs, target: float, rng: random.Random, vocabulary: Vocabulary
) -> tuple[str, float]:
    """The copy whose true Jaccard with the source comes closest to `target`: the shortest
    prefix of a random edit plan that brings it to or below the target, or the one before."""
    source = shingle_set(render(paragraphs))
    plan = edit_plan(rng, vocabulary, sum(map(len, paragraphs)), len(paragraphs))

    def at(count: int) -> tuple[str, float]:
        text = render(apply_edits(paragraphs, plan[:count]))
        return text, jaccard(source, shingle_set(text))

    low, high = 0, len(plan)  # at(low) is above the target; find the first at or below it
    best = at(high)
    if best[1] > target:
        return best
    while high - low > 1:
        middle = (low + high) // 2
        candidate = at(middle)
        if candidate[1] <= target:
            high, best = middle, candidate
        else:
            low = middle
    before = at(low)
    return before if abs(before[1] - target) < abs(best[1] - target) else best


def whitespace_case_copy(paragraphs: Paragraphs, rng: random.Random) -> str:
    """The same words and punctuation; only case and whitespace differ."""
    parts = []
    for tokens in paragraphs:
        shout = rng.random() < 0.15
        out = []
        for token in tokens:
            r = rng.random()
            if shout or r < 0.08:
                token = token.upper()
            elif r < 0.2:
                token = token.capitalize()
            elif r < 0.3:
                token = token.lower()
            out.append(token)
            out.append(rng.choice([" "] * 20 + ["  ", "\t", "\n", " \n "]))
        parts.append("".join(out[:-1]))
    ending = rng.choice(["", "\n", "  ", "\n\n"])
    return rng.choice(["\n\n", "\n", "\n\n\n", "\n \n"]).join(parts) + ending


@dataclass
class Doc:
    """A document of the corpus and, for a planted copy, what it copies and how closely."""

    url: str
    text: str
    kind: str  # base | exact | whitespace-case | edited
    source: str = ""  # the source's url, for a planted copy
    jaccard: float = 1.0  # true Jaccard with the source, for a planted copy
    target: float = 1.0  # what the edits aimed at
    footer: int = -1  # which shared footer a base document ends with (-1: none)


def build_corpus(docs: int, seed: int = 0) -> list[Doc]:
    """`docs` documents in corpus order: base documents, each planted copy at a random place
    among the next COPY_WINDOW base documents after its source (so that any prefix of the
    corpus holds the source of each of its copies and most copies of its sources, and "first
    seen survives" keeps the source)."""
    rng = random.Random(seed)
    vocabulary = make_vocabulary(rng)
    copies = round(docs * COPY_SHARE / (1 + COPY_SHARE))
    n_base = docs - copies
    bases: list[Doc] = []
    structures: list[Paragraphs] = []
    for i in range(n_base):
        paragraphs = base_document(rng, vocabulary)
        footer = rng.randrange(len(FOOTERS)) if rng.random() < FOOTER_SHARE else -1
        if footer >= 0:
            paragraphs.append(FOOTERS[footer].split())
        structures.append(paragraphs)
        url = f"https://corpus.example/doc/{i:06d}"
        bases.append(Doc(url, render(paragraphs), "base", footer=footer))
    keyed: list[tuple[float, Doc]] = [(float(i), doc) for i, doc in enumerate(bases)]
    for k, i in enumerate(sorted(rng.sample(range(n_base), copies))):
        source, paragraphs = bases[i], structures[i]
        roll = rng.random()
        if roll < 0.06:
            copy = Doc("", source.text, "exact")
        elif roll < 0.12:
            copy = Doc("", whitespace_case_copy(paragraphs, rng), "whitespace-case")
        else:
            target = rng.uniform(0.5, 1.0)
            text, _ = edited_copy(paragraphs, target, rng, vocabulary)
            copy = Doc("", text, "edited", target=round(target, 4))
        copy.url = f"https://corpus.example/doc/{i:06d}/copy-{k}"
        copy.source = source.url
        copy.jaccard = jaccard(shingle_set(source.text), shingle_set(copy.text))
        copy.footer = source.footer
        keyed.append((rng.uniform(i + 0.5, min(i + COPY_WINDOW, n_base)), copy))
    keyed.sort(key=lambda item: item[0])
    return [doc for _, doc in keyed]


def background_similarity(corpus: list[Doc], rng: random.Random, pairs: int = 1500) -> dict:
    """True Jaccard of random unrelated base documents, and of documents sharing a footer."""
    bases = [doc for doc in corpus if doc.kind == "base"]
    planted = {(doc.source, doc.url) for doc in corpus if doc.source}
    cache: dict[str, set] = {}

    def sim(a: Doc, b: Doc) -> float:
        for doc in (a, b):
            if doc.url not in cache:
                cache[doc.url] = shingle_set(doc.text)
        return jaccard(cache[a.url], cache[b.url])

    unrelated = []
    for _ in range(pairs):
        a, b = rng.sample(bases, 2)
        if (a.url, b.url) not in planted and (b.url, a.url) not in planted:
            unrelated.append(sim(a, b))
    footed: dict[int, list[Doc]] = {}
    for doc in bases:
        if doc.footer >= 0:
            footed.setdefault(doc.footer, []).append(doc)
    shared = []
    for group in footed.values():
        for _ in range(min(pairs // 3, len(group) * 2)):
            if len(group) >= 2:
                shared.append(sim(*rng.sample(group, 2)))
    return {
        "unrelated_pairs": len(unrelated),
        "unrelated_mean": sum(unrelated) / max(len(unrelated), 1),
        "unrelated_max": max(unrelated, default=0.0),
        "footer_pairs": len(shared),
        "footer_mean": sum(shared) / max(len(shared), 1),
        "footer_max": max(shared, default=0.0),
    }


def write_corpus(corpus: list[Doc], folder: Path, files: int) -> None:
    """The corpus as `files` JSONL files (contiguous slices, names in corpus order), rows
    {"text", "url"}; and the ground truth (no texts) as truth.json next to the folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    per_file = math.ceil(len(corpus) / files)
    for part in range(files):
        with open(folder / f"part-{part:03d}.jsonl", "w", encoding="utf-8") as out:
            for doc in corpus[part * per_file : (part + 1) * per_file]:
                out.write(json.dumps({"text": doc.text, "url": doc.url}) + "\n")
    truth = [{k: v for k, v in asdict(doc).items() if k != "text"} for doc in corpus]
    (folder.parent / "truth.json").write_text(json.dumps(truth), encoding="utf-8")


def corpus_files(work: Path) -> list[Path]:
    """The corpus's JSONL files, in corpus order."""
    return sorted((work / "corpus").glob("*.jsonl"))


def corpus_key(docs: int, seed: int, files: int) -> dict[str, int]:
    """What a cached corpus must match to be reused."""
    return {"version": CORPUS_VERSION, "docs": docs, "seed": seed, "files": files}


def corpus_is_current(work: Path, docs: int, seed: int, files: int) -> bool:
    """Whether corpus, truth and dataset of the same docs, seed, files and generator exist."""
    stamp = work / "corpus.json"
    if not stamp.exists():
        return False
    facts = json.loads(stamp.read_text(encoding="utf-8"))
    key = corpus_key(docs, seed, files)
    return facts.get("key") == key and (work / "dataset" / "_manifest.json").exists()


def prepare_corpus(work: Path, docs: int, seed: int, files: int) -> dict[str, Any]:
    """Build the corpus, write the JSONL and the truth, extract our dataset (one shard per
    JSONL file, untimed); facts about it into corpus.json. Run in a child process: the parent
    stays small, so that the children's peak memory, which on Linux starts from the parent's,
    is theirs."""
    from llm_pretrain.pipeline.dataset import read_table

    started = time.perf_counter()
    corpus = build_corpus(docs, seed)
    generated = time.perf_counter() - started
    write_corpus(corpus, work / "corpus", files)
    background = background_similarity(corpus, random.Random(seed + 1))
    started = time.perf_counter()
    settings = {"executor.workers": 2, "extract.task_max_files": 1}
    extract_jsonl(work / "corpus", work / "dataset", settings)
    facts = {
        "key": corpus_key(docs, seed, files),
        "documents": len(corpus),
        "dataset_rows": len(read_table(work / "dataset").select(["id"])),
        "words": sum(len(doc.text.split()) for doc in corpus),
        "characters": sum(len(doc.text) for doc in corpus),
        "kinds": dict(Counter(doc.kind for doc in corpus)),
        "footers": sum(doc.footer >= 0 and doc.kind == "base" for doc in corpus),
        "background": background,
        "seconds_generate": round(generated, 1),
        "seconds_extract": round(time.perf_counter() - started, 1),
    }
    (work / "corpus.json").write_text(json.dumps(facts), encoding="utf-8")
    return facts
