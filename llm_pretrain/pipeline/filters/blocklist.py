"""Blocklist steps: banned words in the text (C4's bad-words rule) and banned sites in the URL.

`word_blocklist` follows C4 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with
a Unified Text-to-Text Transformer", section 2.2): C4 drops every page that contains any word of
the "List of Dirty, Naughty, Obscene or Otherwise Bad Words", and C4 is English only. Here a
list is given per language (plain text files, one word or phrase per line, `#` starts a comment
line), and matches are counted into the `blocklist_matches` column, so that the step can also
just score. Documents in a language without a list pass. Options taken from datatrove's
`C4BadWordsFilter` (huggingface/datatrove, `pipeline/filters/c4_filters.py`): documents without
a language are judged as English (`default_language`), a fraction of the documents with
matches may be kept (`keep_fraction`), and languages written without spaces between words (as
listed in `base.NON_WHITESPACE_LANGUAGES`) match anywhere, not only as whole words, as that
filter does for Chinese, Japanese and Thai.

The default English list is `profanity_wordlist.txt` from the `better-profanity` package
(https://github.com/snguyenthanh/better_profanity, version 0.7.0, MIT licence: LICENSE file in
its dist-info and the "License :: OSI Approved :: MIT License" classifier of its metadata). We
locate the file without importing the package. It is a profanity-filter list of about 900
entries, broader than C4's list: it includes everyday words such as "god", "fat", "pot" or "sex",
so with `min_matches: 1` it rejects far more than profanity. Dodge et al. 2021 ("Documenting
Large Webtext Corpora: A Case Study on the Colossal Clean Crawled Corpus") show that C4's rule
already removed text by and about minority groups disproportionately; check what it removes
(`dry_run`, or `mode: score`) before rejecting with it.

`url_blocklist` rejects documents from listed domains or with banned words in the URL, as
datatrove's `URLFilter` (`pipeline/filters/url_filter.py`) does with the UT1 adult list, which
FineWeb uses. No list ships with it: give `domains_file` and/or `url_words_file`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import ipaddress
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa
from pydantic import Field

from llm_pretrain.errors import UsageError
from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import NON_WHITESPACE_LANGUAGES, Step, StepConfig

ENGLISH = "en"
MATCHES_COLUMN = "blocklist_matches"
_SPACE = re.compile(r"\s+")
# Word separators inside a URL: anything but a letter or a digit (Unicode-aware; `_` included).
_URL_SEPARATORS = re.compile(r"[\W_]+")


class BlocklistError(UsageError, ValueError):
    """A blocklist step whose list files are missing, unreadable or empty: a config error."""


# --- List files -------------------------------------------------------------------------------


def read_list(path: str | Path, key: str) -> list[str]:
    """The entries of a list file: stripped non-empty lines, except `#` comment lines.

    Only whole lines are comments: `#` may be part of a word, so it is not cut out of a line.
    `key` is the config key that named the file, for the error messages.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BlocklistError(f"{key}: {path} does not exist") from None
    except IsADirectoryError:
        raise BlocklistError(f"{key}: {path} is a directory, not a list file") from None
    except OSError as exc:
        raise BlocklistError(f"{key}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BlocklistError(f"{key}: {path} is not UTF-8 text ({exc.reason})") from None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append(line)
    if not entries:
        raise BlocklistError(f"{key}: {path} has no entries")
    return entries


def packaged_english_list() -> Path:
    """`profanity_wordlist.txt` from the installed better-profanity package (MIT licence)."""
    # find_spec of a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec("better_profanity")
    if spec is None or not spec.submodule_search_locations:
        raise BlocklistError(
            "filter.word_blocklist.default_english: the default English list comes from the "
            "better-profanity package, which is not installed (`pip install better-profanity`, "
            "or set default_english to false)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "profanity_wordlist.txt"
    if not path.is_file():
        raise BlocklistError(
            f"filter.word_blocklist.default_english: better-profanity is installed but {path} "
            "is missing"
        )
    return path


# --- Word matching ----------------------------------------------------------------------------

_END = ""  # trie key marking the end of an entry (real keys are one character or _GAP)
_GAP = " "  # trie key for the whitespace between the words of a phrase


@cache
def _word_class() -> str:
    """A regex class of what continues a word: `\\w` (letters, digits, `_` in every script) and
    the combining marks (categories Mn, Mc, Me) of the Basic Multilingual Plane, which `\\w`
    leaves out although they are part of words (Devanagari vowel signs, decomposed accents)."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    marks = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return f"[\\w{marks}]"


def normalize_text(text: str) -> str:
    """Lower case, composed (NFC) form, as the patterns are built and applied."""
    text = text.lower()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def normalize_entry(entry: str) -> str:
    """As `normalize_text`, with one space between the words of a phrase."""
    return _SPACE.sub(" ", normalize_text(entry)).strip()


def _unit(key: str) -> str:
    return r"\s+" if key == _GAP else re.escape(key)


def _node_pattern(node: dict) -> str:
    """The regex that matches every continuation stored under a trie node."""
    parts = []
    for key in sorted(k for k in node if k != _END):
        child = node[key]
        part = [_unit(key)]
        # Follow single-branch chains without recursing, so that long entries stay shallow.
        while _END not in child and len(child) == 1:
            ((key, child),) = child.items()
            part.append(_unit(key))
        parts.append("".join(part) + _node_pattern(child))
    if not parts:
        return ""
    body = "|".join(parts)
    if _END in node:  # longer entries are tried first; the shorter one still matches alone
        return f"(?:{body})?"
    return body if len(parts) == 1 else f"(?:{body})"


def compile_words(entries: list[str], whole_words: bool = True) -> re.Pattern[str]:
    """One regex for a word list: the entries as a trie (shared prefixes are tried once).

    Matching is on lower-cased text; whitespace inside a phrase matches any run of whitespace.
    With `whole_words`, a match may not be preceded or followed by a letter, digit, `_` or
    combining mark (in any script), so "ass" does not match inside "class" (no "Scunthorpe
    problem").
    """
    trie: dict = {}
    for entry in entries:
        node = trie
        for word_index, word in enumerate(normalize_entry(entry).split(" ")):
            if word_index:
                node = node.setdefault(_GAP, {})
            for char in word:
                node = node.setdefault(char, {})
        node[_END] = True
    body = _node_pattern(trie)
    # A trie rather than a flat alternation of the entries: about 10x faster on 4 KB texts.
    if not whole_words:
        return re.compile(body)
    word = _word_class()
    return re.compile(f"(?<!{word})(?:{body})(?!{word})")


def count_matches(pattern: re.Pattern[str], text: str) -> int:
    """Non-overlapping matches in `text`, case-insensitive (the patterns are lower case)."""
    return sum(1 for _ in pattern.finditer(normalize_text(text)))


def hash_fraction(doc_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by the document id and the seed (the same in every process)."""
    digest = hashlib.blake2b(f"{seed}\x00{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class WordBlocklistConfig(StepConfig):
    lists: dict[str, str] = Field(
        {},
        description="word list file per language code (as set by the language step): one word "
        "or phrase per line, lines starting with # are comments; added to the default English "
        "list for `en`",
    )
    default_english: bool = Field(
        True,
        description="use the English word list of the better-profanity package (MIT licence; "
        "about 900 entries, broader than C4's list: it includes words such as 'god' and 'sex')",
    )
    default_language: str | None = Field(
        ENGLISH,
        description="the list for documents without a language (the language step did not "
        "run); null lets them pass",
    )
    mode: Literal["reject", "score"] = Field(
        "reject",
        description="reject documents with at least min_matches matches, or only count matches "
        "into the blocklist_matches column",
    )
    # C4 rejects a page on its first bad word (Raffel et al. 2020, section 2.2).
    min_matches: int = Field(1, ge=1, description="matches that make a document rejected")
    keep_fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="fraction of the documents with enough matches that are kept anyway, chosen "
        "by a hash of the document id (the same documents on every run)",
    )
    seed: int = Field(0, description="salt of the keep_fraction hash: another seed keeps others")


class WordBlocklist(Step):
    """Counts blocklisted words and phrases; rejects documents with `min_matches` or more."""

    name = "word_blocklist"
    config_class = WordBlocklistConfig
    columns: ClassVar[dict[str, pa.DataType]] = {MATCHES_COLUMN: pa.int32()}

    def __init__(self, config: WordBlocklistConfig) -> None:
        super().__init__(config)
        entries: dict[str, list[str]] = {}
        if config.default_english:
            entries[ENGLISH] = read_list(
                packaged_english_list(), "filter.word_blocklist.default_english"
            )
        for language, path in config.lists.items():
            words = read_list(path, f"filter.word_blocklist.lists.{language}")
            entries[language] = entries.get(language, []) + words
        if not entries:
            raise BlocklistError(
                "filter.word_blocklist: no word list: set lists or default_english"
            )
        self.patterns = {
            language: compile_words(words, whole_words=language not in NON_WHITESPACE_LANGUAGES)
            for language, words in entries.items()
        }

    def pattern_for(self, language: str) -> re.Pattern[str] | None:
        """The list of a language code, or of its base language ("pt-BR" -> "pt")."""
        pattern = self.patterns.get(language)
        if pattern is None:
            base = re.split(r"[-_]", language, maxsplit=1)[0]
            pattern = self.patterns.get(base)
        return pattern

    def apply(self, doc: Document) -> str | None:
        config = self.config
        language = doc.language or config.default_language
        if language is None:
            self.counts["no_language"] += 1
            return None
        pattern = self.pattern_for(language)
        if pattern is None:
            self.counts[f"no_list:{language}"] += 1
            return None
        matches = count_matches(pattern, doc.text)
        doc.annotations[MATCHES_COLUMN] = matches
        if matches < config.min_matches:
            return None
        self.counts[f"flagged:{language}"] += 1
        if config.mode == "score":
            return None
        if config.keep_fraction and hash_fraction(doc.id, config.seed) < config.keep_fraction:
            self.counts[f"kept_by_fraction:{language}"] += 1
            return None
        return "blocked_words"


# --- URLs -------------------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, internationalized names in their ASCII (punycode) form."""
    host = host.strip().lower().rstrip(".")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # an invalid IDNA name stays as written
            host = host.encode("idna").decode("ascii")
    return host


def url_host(url: str) -> str | None:
    """The host of a URL (a bare "example.com/page" too), or None when there is none."""
    try:
        host = urlsplit(url if "://" in url else "//" + url).hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return None
    return normalize_host(host) if host else None


def host_and_parents(host: str) -> list[str]:
    """ "a.b.example.com" -> itself, "b.example.com", "example.com", "com"; an IP only itself."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host]
    except ValueError:
        labels = host.split(".")
        return [".".join(labels[i:]) for i in range(len(labels))]


def url_text(url: str, match: str) -> str:
    """A URL (or a banned URL word) as the URL word patterns see it, percent-escapes decoded:

    - token: its words, lower case, each followed by one space ("a-b/c" -> "a b c ");
    - substring: lower case without separators ("a-b/c" -> "abc").
    """
    text = unquote(url).lower()
    if match == "token":
        return "".join(word + " " for word in _URL_SEPARATORS.split(text) if word)
    return _URL_SEPARATORS.sub("", text)


class UrlBlocklistConfig(StepConfig):
    domains_file: str | None = Field(
        None,
        description="file of blocked domains, one a line (# comment lines); subdomains are "
        "blocked too. No list ships with the step (e.g. use the UT1 blacklists' adult/domains)",
    )
    url_words_file: str | None = Field(
        None,
        description="file of words that block a URL containing them, one a line (# comment "
        "lines). No list ships with the step",
    )
    url_words_match: Literal["token", "substring"] = Field(
        "token",
        description="token: a word matches whole URL words (split at non-alphanumerics, so "
        "'sex' does not match 'essex'); substring: anywhere in the URL with separators removed",
    )


class UrlBlocklist(Step):
    """Rejects documents whose URL host (or a parent domain) or URL words are blocklisted."""

    name = "url_blocklist"
    config_class = UrlBlocklistConfig

    def __init__(self, config: UrlBlocklistConfig) -> None:
        super().__init__(config)
        if config.domains_file is None and config.url_words_file is None:
            raise BlocklistError(
                "filter.url_blocklist: no list: set domains_file and/or url_words_file "
                "(no default list ships with this step)"
            )
        self.domains: frozenset[str] = frozenset()
        if config.domains_file is not None:
            key = "filter.url_blocklist.domains_file"
            domains = set()
            for entry in read_list(config.domains_file, key):
                # "*.example.com" and ".example.com" both mean example.com and its subdomains.
                domain = normalize_host(entry.removeprefix("*").lstrip("."))
                if not domain or any(c.isspace() or c in "/:@?#" for c in domain):
                    raise BlocklistError(
                        f"{key}: {config.domains_file}: {entry!r} is not a domain name"
                    )
                domains.add(domain)
            self.domains = frozenset(domains)
        self.url_words: re.Pattern[str] | None = None
        if config.url_words_file is not None:
            self.url_words = self._compile_url_words(config.url_words_file, config.url_words_match)

    @staticmethod
    def _compile_url_words(path: str, match: str) -> re.Pattern[str]:
        key = "filter.url_blocklist.url_words_file"
        words = set()
        for entry in read_list(path, key):
            word = url_text(entry, match)  # token: "free-porn" -> "free porn "
            if not word:
                raise BlocklistError(f"{key}: {path}: {entry!r} has no letter or digit")
            words.add(re.escape(word))
        alternation = "|".join(sorted(words))
        # Token mode matches in url_text(url): a word starts the string or follows a space.
        return re.compile(f"(?<![^ ])(?:{alternation})" if match == "token" else alternation)

    def apply(self, doc: Document) -> str | None:
        if not doc.url:
            self.counts["no_url"] += 1
            return None
        if self.domains:
            host = url_host(doc.url)
            if host is None:
                self.counts["no_host"] += 1
            elif any(name in self.domains for name in host_and_parents(host)):
                return "blocked_domain"
        if self.url_words is not None and self.url_words.search(
            url_text(doc.url, self.config.url_words_match)
        ):
            return "blocked_url_word"
        return None
