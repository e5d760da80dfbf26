import pyarrow as pa
import pytest
from pydantic import ValidationError

from llm_pretrain.pipeline.filters.blocklist import (
    MATCHES_COLUMN,
    BlocklistError,
    UrlBlocklist,
    UrlBlocklistConfig,
    WordBlocklist,
    WordBlocklistConfig,
    packaged_english_list,
    read_list,
)
from tests.pipeline.filters.documents import doc_of

# Neutral stand-ins for bad words: the tests are about matching, not about the words.
WORDS = "# fruit we do not want\ndurian\nrotten egg\n\ncat\nÜber\n"


@pytest.fixture
def word_list(tmp_path):
    path = tmp_path / "en.txt"
    path.write_text(WORDS, encoding="utf-8")
    return str(path)


def word_step(word_list, **config) -> WordBlocklist:
    config.setdefault("default_english", False)
    return WordBlocklist(WordBlocklistConfig(lists={"en": word_list}, **config))


def doc(text: str, language: str | None = "en", id: str = "d", url: str | None = None):
    return doc_of(id=id, text=text, language=language, url=url)


def matches(step: WordBlocklist, text: str, language: str | None = "en") -> int | None:
    d = doc(text, language)
    step.apply(d)
    return d.annotations.get(MATCHES_COLUMN)


def test_comment_and_blank_lines_are_not_entries(word_list):
    assert read_list(word_list, "key") == ["durian", "rotten egg", "cat", "Über"]


def test_whole_words_only(word_list):
    step = word_step(word_list)
    assert step.columns == {MATCHES_COLUMN: pa.int32()}
    # A listed word inside a longer word does not match (the "Scunthorpe problem").
    for text in ["concatenate the category", "cats", "bobcat", "cat_food", "cat2", "Überall"]:
        assert matches(step, text) == 0, text
    for text in ["cat", "a cat.", "(cat)", "dog/cat", "«cat»", "über-cool", "x durian"]:
        assert matches(step, text) == 1, text


def test_case_insensitive_and_unicode(word_list):
    step = word_step(word_list)
    assert matches(step, "CAT Cat cAt") == 3
    assert matches(step, "DURIAN") == 1
    assert matches(step, "ÜBER alles") == 1
    assert matches(step, "U\u0308ber alles") == 1  # decomposed Ü is composed first
    assert matches(step, "cat\u0301") == 0  # a combining accent continues the word


def test_phrases(word_list):
    step = word_step(word_list)
    assert matches(step, "A Rotten Egg.") == 1
    assert matches(step, "a rotten\n   egg") == 1  # any whitespace between the words
    assert matches(step, "rotten eggs, rotten fruit, an egg") == 0


def test_reject_and_counts(word_list):
    step = word_step(word_list)
    d = doc("The cat ate the durian.")
    assert step.apply(d) == "blocked_words"
    assert d.annotations[MATCHES_COLUMN] == 2
    assert step.apply(doc("A clean sentence.")) is None
    assert step.counts == {"flagged:en": 1}


def test_min_matches(word_list):
    step = word_step(word_list, min_matches=2)
    assert step.apply(doc("one cat")) is None
    assert step.apply(doc("one cat, one durian")) == "blocked_words"


def test_score_mode_annotates_without_rejecting(word_list):
    step = word_step(word_list, mode="score")
    d = doc("cat cat durian")
    assert step.apply(d) is None
    assert d.annotations[MATCHES_COLUMN] == 3
    assert step.counts["flagged:en"] == 1


def test_per_language_lists(word_list, tmp_path):
    german = tmp_path / "de.txt"
    german.write_text("Schimpfwort\nböses wort\n", encoding="utf-8")
    step = WordBlocklist(
        WordBlocklistConfig(lists={"en": word_list, "de": str(german)}, default_english=False)
    )
    assert step.apply(doc("Das ist ein Schimpfwort.", "de")) == "blocked_words"
    assert step.apply(doc("Ein BÖSES Wort!", "de")) == "blocked_words"
    assert step.apply(doc("Die Katze und die Durian.", "de")) is None  # English list not used
    assert step.apply(doc("Das ist ein Schimpfwort.", "en")) is None
    assert step.apply(doc("ein Schimpfwort", "de-AT")) == "blocked_words"  # base language
    d = doc("cat schimpfwort", "fr")
    assert step.apply(d) is None and MATCHES_COLUMN not in d.annotations
    assert step.counts["no_list:fr"] == 1


def test_documents_without_language(word_list):
    assert word_step(word_list).apply(doc("a cat", None)) == "blocked_words"  # judged as en
    step = word_step(word_list, default_language=None)
    assert step.apply(doc("a cat", None)) is None
    assert step.counts["no_language"] == 1


def test_languages_without_spaces_match_inside_text(tmp_path):
    chinese = tmp_path / "zh.txt"
    chinese.write_text("榴莲\n", encoding="utf-8")
    step = WordBlocklist(WordBlocklistConfig(lists={"zh": str(chinese)}, default_english=False))
    assert matches(step, "我不喜欢榴莲的味道。", "zh") == 1


def test_keep_fraction_is_deterministic(word_list):
    docs = [doc("a cat", id=f"doc-{i}") for i in range(400)]

    def kept(**config) -> set[str]:
        step = word_step(word_list, keep_fraction=0.25, **config)
        return {d.id for d in docs if step.apply(d) is None}

    first = kept()
    assert 60 < len(first) < 140
    assert kept() == first  # a new step (another worker, another run) keeps the same documents
    assert kept(seed=1) != first
    assert not {d.id for d in docs if word_step(word_list).apply(d) is None}


def test_default_english_list_from_better_profanity():
    # Pick a word from the packaged list rather than writing one into this file.
    entries = read_list(packaged_english_list(), "default_english")
    assert len(entries) > 500
    word = next(entry for entry in entries if entry.isalpha() and len(entry) > 5)
    step = WordBlocklist(WordBlocklistConfig())
    assert step.apply(doc(f"Some text, then {word.upper()} and more.")) == "blocked_words"
    assert step.apply(doc(f"Some text, then x{word}x and more.")) is None
    assert step.apply(doc("The committee measured the water level.")) is None


def test_own_english_list_adds_to_the_default(word_list):
    step = WordBlocklist(WordBlocklistConfig(lists={"en": word_list}))
    assert step.apply(doc("a durian")) == "blocked_words"


def test_word_list_errors(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(BlocklistError) as error:
        WordBlocklist(WordBlocklistConfig(lists={"de": str(missing)}))
    message = str(error.value)
    assert isinstance(error.value, ValueError) and "\n" not in message
    assert "filter.word_blocklist.lists.de" in message and str(missing) in message
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(BlocklistError, match="has no entries"):
        WordBlocklist(WordBlocklistConfig(lists={"de": str(empty)}))
    with pytest.raises(BlocklistError, match="is a directory"):
        WordBlocklist(WordBlocklistConfig(lists={"de": str(tmp_path)}))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("böse\n".encode("latin-1"))
    with pytest.raises(BlocklistError, match="not UTF-8"):
        WordBlocklist(WordBlocklistConfig(lists={"de": str(latin1)}))
    with pytest.raises(BlocklistError, match="no word list"):
        WordBlocklist(WordBlocklistConfig(default_english=False))
    with pytest.raises(ValidationError):
        WordBlocklistConfig(mode="drop")
    with pytest.raises(ValidationError):
        WordBlocklistConfig(keep_fraction=1.5)


# --- URLs -------------------------------------------------------------------------------------


@pytest.fixture
def domains(tmp_path):
    path = tmp_path / "domains.txt"
    path.write_text("# blocked sites\nexample.com\n*.Wildcard.ORG\nbücher.de\n192.0.2.7\n")
    return str(path)


@pytest.fixture
def url_words(tmp_path):
    path = tmp_path / "url_words.txt"
    path.write_text("casino\nfree-bets\n")
    return str(path)


def url_rule(step: UrlBlocklist, url: str | None) -> str | None:
    return step.apply(doc("text", url=url))


def test_domain_and_parent_domains(domains):
    step = UrlBlocklist(UrlBlocklistConfig(domains_file=domains))
    for url in [
        "https://example.com/",
        "http://EXAMPLE.com./page?q=1",
        "https://a.b.example.com:8080/x",
        "https://user:pw@www.example.com/",
        "example.com/no-scheme",
        "https://shop.wildcard.org/",
        "https://wildcard.org",
        "https://xn--bcher-kva.de/",  # the punycode form of bücher.de
        "https://www.bücher.de/",
        "http://192.0.2.7/admin",
    ]:
        assert url_rule(step, url) == "blocked_domain", url


def test_look_alike_domains_pass(domains):
    step = UrlBlocklist(UrlBlocklistConfig(domains_file=domains))
    for url in [
        "https://notexample.com/",
        "https://example.com.evil.org/",
        "https://example.co/",
        "https://other.org/example.com",
        "http://192.0.2.77/",
        "https://buecher.de/",
    ]:
        assert url_rule(step, url) is None, url
    assert url_rule(step, None) is None and url_rule(step, "") is None
    assert step.counts["no_url"] == 2
    assert url_rule(step, "http://[::1/broken") is None
    assert step.counts["no_host"] == 1


def test_url_words_as_tokens(url_words):
    step = UrlBlocklist(UrlBlocklistConfig(url_words_file=url_words))
    assert url_rule(step, "https://news.org/best-Casino-games") == "blocked_url_word"
    assert url_rule(step, "https://casino.news.org/") == "blocked_url_word"
    assert url_rule(step, "https://news.org/get_free_bets.html") == "blocked_url_word"
    assert url_rule(step, "https://news.org/get%20free%20bets") == "blocked_url_word"
    assert url_rule(step, "https://news.org/casinos") is None
    assert url_rule(step, "https://news.org/freebets") is None
    assert url_rule(step, "https://news.org/bets-free") is None


def test_url_words_as_substrings(url_words):
    config = UrlBlocklistConfig(url_words_file=url_words, url_words_match="substring")
    step = UrlBlocklist(config)
    assert url_rule(step, "https://news.org/casinos") == "blocked_url_word"
    assert url_rule(step, "https://news.org/freebets") == "blocked_url_word"
    assert url_rule(step, "https://news.org/bets-free") is None


def test_domains_and_words_together(domains, url_words):
    step = UrlBlocklist(UrlBlocklistConfig(domains_file=domains, url_words_file=url_words))
    assert url_rule(step, "https://example.com/casino") == "blocked_domain"
    assert url_rule(step, "https://fine.org/casino") == "blocked_url_word"
    assert url_rule(step, "https://fine.org/news") is None


def test_url_list_errors(tmp_path):
    missing = tmp_path / "nope" / "domains.txt"
    with pytest.raises(BlocklistError) as error:
        UrlBlocklist(UrlBlocklistConfig(domains_file=str(missing)))
    message = str(error.value)
    assert isinstance(error.value, ValueError) and "\n" not in message
    assert "filter.url_blocklist.domains_file" in message and str(missing) in message
    with pytest.raises(BlocklistError, match="filter.url_blocklist.url_words_file"):
        UrlBlocklist(UrlBlocklistConfig(url_words_file=str(missing)))
    with pytest.raises(BlocklistError, match="no default list"):
        UrlBlocklist(UrlBlocklistConfig())
    bad = tmp_path / "bad.txt"
    bad.write_text("example.com\nhttps://example.org/page\n")
    with pytest.raises(BlocklistError, match="not a domain name"):
        UrlBlocklist(UrlBlocklistConfig(domains_file=str(bad)))
    with pytest.raises(ValidationError):
        UrlBlocklistConfig(domains_file=3)
