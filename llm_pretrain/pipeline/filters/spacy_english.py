"""spaCy's English tokenizer, as far as the rule sets need it: which characters it peels off
the ends of a whitespace-separated chunk, which abbreviations keep their period, and when a
final period becomes a token of its own. Both C4's sentence count (c4.py) and the words of
the Gopher and FineWeb rules (english_words.py) follow these rules; they are measured against
spaCy 3.8 character by character (see c4.py's notes on sentence counting)."""

from __future__ import annotations

import re
import unicodedata

# Characters spaCy's English tokenizer peels off the front / the back of a chunk, besides other
# symbols (and currency signs in front); it leaves "-", "/", "@", "|", "~", "\\" and a single "."
# attached there.
_CJK_PUNCT = "。？！，、；：～（）「」『』【】《》〈〉"
PREFIX_CHARS = frozenset("!\"#$%&'()*+,:;<=>?[]_`{}°§©®™€£¥·–—‘’“”«»¿¡…„‚¦´" + _CJK_PUNCT)
SUFFIX_CHARS = frozenset("!\"#&'()*,:;<>?[]_`{}°©®™·–—‘’“”«»¿¡…„‚¦´" + _CJK_PUNCT)
# Letters of scripts without case that spaCy counts as lower-case here: Hebrew, Arabic,
# Devanagari, Bengali, Tamil to Kannada, Sinhala, Hangul, Ethiopic, kana, CJK ideographs.
_NO_CASE_LETTER = re.compile(
    "[\u05d0-\u06ff\u0750-\u077f\u08a0-\u08bd\u0904-\u09fc\u0b83-\u0cf2\u0d85-\u0dc6"
    "\u1100-\u135a\u3005-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufad9\ufb1d-\ufefc]"
)
_SPLIT_AFTER = frozenset("0123456789%²-+<>`´!\"#&'()*,:;?[]_{|}°©®™·‘’“”«»¿¡…‚„")
# Abbreviations that spaCy's English tokenizer keeps in one token with their period, so that
# they end no sentence (spacy.lang.en tokenizer exceptions). Those ending in an upper-case
# letter and a period ("U.S.", "Ph.D.") never split anyway and are left out.
ABBREVIATIONS = frozenset(
    """Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros. Calif. Co. Colo. Conn. Corp. Dec. Del. Dr. Feb.
    Fla. Ga. Gen. Gov. Ia. Id. Ill. Inc. Ind. Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Ltd. Mar.
    Mass. Md. Messrs. Mich. Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. Neb. Nebr. Nev. Nov. Oct.
    Okla. Ore. Pa. Prof. Rep. Rev. Sen. Sep. Sept. St. Tenn. Va. Wash. Wis. co. vs. e.g. i.e.
    a.m. p.m. v.s. ä. ö. ü. E.g. I.e.""".split()
) | frozenset(f"{letter}." for letter in "abcdefghijklmnopqrstuvwxyz")
# Contractions written without an apostrophe that spaCy splits so that the final period stays
# on a one-letter piece ("id." -> "i" "d."): they end no sentence either.
NO_BREAK_WORDS = frozenset(
    word
    for lower in """hed hes howd hows id im ima itd shes thatd thats thered theres thesed theyd
    thisd thiss thosed wed whatd whats whend whens whered wheres whod whos whyd whys youd""".split()
    for word in (lower, lower.capitalize())
)


# Where spaCy splits a chunk inside (a hyphen, dash, "~", ":", "<", ">", "=" or "/" between an
# alphanumeric character and a letter, a comma between letters): only the last piece can take
# a final period along as an abbreviation ("km/h." ends in "h.").
_INFIX_SPLIT = re.compile(r"(?<=[^\W_])[-–—~:<>=/](?=[^\W\d_])|(?<=[^\W\d_]),(?=[^\W\d_])")


def period_is_split(body: str) -> bool:
    """Whether spaCy's tokenizer makes a token of its own of the "." in `body + "."` (`body`
    without the prefix characters it peels off first; its last 12 characters are enough)."""
    last = body[-1]
    if not (
        last.islower()
        or last in _SPLIT_AFTER
        or _NO_CASE_LETTER.match(last)
        or unicodedata.category(last) == "So"
        or (len(body) > 1 and last.isupper() and body[-2].isupper())
        or (len(body) > 1 and body[-2] == "°" and last in "FfCcKk")
    ):
        return False
    piece = _INFIX_SPLIT.split(body)[-1] if len(body) > 2 else body
    return piece + "." not in ABBREVIATIONS and piece not in NO_BREAK_WORDS
