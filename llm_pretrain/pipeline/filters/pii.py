"""PII masking: e-mail addresses, phone numbers and IP addresses become placeholders.

The step never rejects a document; it rewrites `doc.text`, counts what it replaced per type in
`self.counts` and records the per-document counts in `doc.metadata["pii"]`.

Precision comes first: a missed address is a small leak, but masking dates, prices, versions
and identifiers all over the corpus would teach the model a wrong distribution. Each type is
one pass of one precompiled regex, skipped when its trigger character is absent, with a cheap
check on each match for what a regex cannot express (octet ranges, digit counts).

What is masked (and what deliberately is not):

* E-mail: ASCII `local@domain.tld`, the local part of letters, digits and `._%+-` (at most
  64 characters, RFC 5321 section 4.5.3.1.1), the domain of dot-separated labels ending in an
  alphabetic top-level label of two or more letters (or an `xn--` IDN label). Not masked:
  `user@localhost` and other dotless hosts, `user@[10.0.0.1]` address literals, quoted local
  parts, non-ASCII addresses, retina image names such as `logo@2x.png`, and anything whose
  last label is a common file extension that is not a top-level domain (`png`, `js`, ...).
  `@` in URL paths (`/@user/post`, `/npm/pkg@1.2.3/x.js`) has no local part or no alphabetic
  top-level label and is left alone; `user:password@host.com` in a URL is masked from
  `password` on.
* Phone: North American numbers with one repeated separator `-` or `.` or a parenthesised
  area code (`555-123-4567`, `555.123.4567`, `1-555-123-4567`, `1 (555) 123-4567`; the area
  code starts with 2-9, as in the NANP numbering plan); after a parenthesised area code any
  separator or none may follow (`(555) 123 4567`, `(555)-123-4567`, `(555).123.4567`,
  `(555)123-4567`): the parentheses alone make it a phone number. And
  international numbers starting with `+` (`+1 555 123 4567`, `+44 20 7946 0958`,
  `+44 (0)20 7946 0958`, `+81-3-1234-5678`, `+442079460958`). A `+` number has 8-15 digits
  (ITU-T E.164 allows at most 15) not counting a `(0)` trunk prefix, a country code of 1-3
  digits not starting with 0, and after the first group one kind of separator (space, `-` or
  `.`); written without separators it needs 10-15 digits. Not masked: bare digit runs
  (`5551234567`: ids, order numbers and timestamps look the same; `mask_bare_digit_runs`
  masks ten digits with a 2-9 area code, or eleven starting with `1`), space-separated
  groups without `+` (`555 123 4567`: indistinguishable from a table row), card-like groups
  (`4111 1111 1111 1111`), dates, ISBNs, ranges, codes glued to letters or dashes
  (`SKU-555-123-4567`). A `+` number followed on the same line by more digit groups with the
  same separator takes them in (`+44 20 7946 0958 24` is one number), unless the last group
  runs on into another number (`+44 20 7946 0958 24/7` masks as `<PHONE> 24/7`).
* IPv4: dotted quads that `ipaddress.IPv4Address` accepts (octets 0-255, no leading zeros),
  not inside a longer dotted or word sequence (`1.2.3.4.5`, `v1.2.3.4` stay). A version
  string that happens to be a valid dotted quad (`version 10.0.0.1`) is masked: it cannot be
  told apart from an address. A port or prefix length stays (`<IPV4>:8080`, `<IPV4>/8`).
* IPv6: colon-hex candidates that `ipaddress.IPv6Address` accepts (full, `::`-compressed,
  embedded IPv4 such as `::ffff:192.0.2.1`); a zone suffix (`%eth0`) is kept. To avoid code
  (`a[1::2]`, `Add::Bad`) and times (`12:30:45`, which `ipaddress` rejects anyway), a candidate
  needs a decimal digit and either three groups or a group of three or more characters; MAC
  addresses (six groups) are not valid IPv6 addresses and stay.

Addresses listed in `skip_ips` (by default loopback and unspecified ones, which identify no
one and are common in technical documentation) are kept as written; they are compared as
parsed addresses. (`::1` is also below the IPv6 candidate rules, so it stays either way.)

Speed: the e-mail and IPv6 passes only look around `@` and `:hex:` hits found with a fast
search; the phone and IPv4 patterns start with a character class, which lets `re` skip to
the next candidate character in C (lookbehinds are therefore written after that character).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field, field_validator

from llm_pretrain.pipeline.documents import Document
from llm_pretrain.pipeline.filters.base import Step, StepConfig

# --- e-mail ---------------------------------------------------------------------------------
# Matched around each `@`: the local part in the 64 characters before it (RFC 5321 section
# 4.5.3.1.1), anchored at the `@`; then the domain right after it. The local part is an RFC 5322
# dot-atom restricted to the characters seen in real addresses: quotes, `/`, `=` and the like
# are left out so that surrounding punctuation and URL paths are not swallowed, and it starts
# where a run of such characters starts (or after a dot).
_LOCAL_MAX = 64
_LOCAL = re.compile(r"(?<![A-Za-z0-9_%+-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*\Z")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"(?P<tld>[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})"
    r"(?![A-Za-z0-9_-])"
)
# File extensions that are not top-level domains (IANA root zone database), seen after `@`
# in asset names such as `icon@2x.png` or `lib@next.js`.
# fmt: off
_NOT_TLDS = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic",
    "css", "js", "mjs", "cjs", "jsx", "tsx", "json", "xml", "html", "htm", "php", "asp", "aspx",
    "pdf", "txt", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "wav", "webm", "ogg",
    "yml", "yaml",
})
# fmt: on
_RETINA = re.compile(r"@\d+(?:\.\d+)?x\.", re.ASCII)

# --- phone ----------------------------------------------------------------------------------
_PHONE = re.compile(
    r"[+(1-9]"  # the first character; lookbehinds below look past it
    r"(?<![\w+].)"  # not glued to a word, a number or another `+`
    r"(?:"
    # International: `+`, the country code, a first separator (or a parenthesised group such
    # as `(0)` or an area code), then groups joined by one repeated separator; it ends where
    # that separator is not followed by a digit.
    r"(?<=\+)[1-9]\d*"
    r"(?:(?:[ \u00a0]?\(\d{1,4}\)[ \u00a0]?|[ \u00a0.\-])\d+"
    r"(?:(?P<sep>[ \u00a0.\-])\d+(?:(?P=sep)\d+)*)?)?"
    r"(?!\w|(?P=sep)\d)"
    r"|"
    # North American without `+`, not after `<letter or digit>-` or `<digit>.` (product
    # codes, longer dashed or dotted numbers).
    r"(?<!\w-.)(?<!\d\..)"
    r"(?:"
    r"(?:(?<=1)[ .\-]?\(|(?<=\())[2-9]\d\d\)[ \u00a0.\-]?\d{3}[ \u00a0.\-]\d{4}"  # (NPA) NXX-XXXX
    r"|(?:(?<=1)[.\-][2-9]|(?<=[2-9]))\d\d(?P<nsep>[.\-])\d{3}(?P=nsep)\d{4}"  # NPA-NXX-XXXX
    r")"
    r"(?!\w|-\w|\.\d)"
    r")",
    re.ASCII,
)
# Bare NANP digit runs (`5551234567`, `15551234567`), only with `mask_bare_digit_runs`: the
# same guards as above keep them out of longer numbers, decimals and codes.
_BARE_PHONE = re.compile(
    r"[1-9](?<![\w+].)(?<!\w-.)(?<!\d\..)(?:(?<=1)[2-9]|(?<=[2-9]))\d{9}(?!\w|-\w|\.\d)",
    re.ASCII,
)
_DIGIT = re.compile(r"\d", re.ASCII)
_TRUNK = "(0)"
_RUN_ON = frozenset(".-/:,")
_LAST_GROUP = re.compile(r"[ \u00a0.\-]?\d+\Z", re.ASCII)
_COUNTRY_CODE = re.compile(r"\+(\d+)", re.ASCII)

# --- IP addresses ---------------------------------------------------------------------------
# Candidates only; `ipaddress` decides. Not preceded by a word character or `<digit>.`, not
# followed by a word character or `.<digit>`: no quad is cut out of a longer dotted sequence.
_IPV4 = re.compile(r"\d(?<!\w.)(?<!\d\..)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\w|\.\d)", re.ASCII)
# Every IPv6 candidate has two colons at most four hex digits apart; the first such pair
# starts at most four hex digits after the start of the candidate.
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_HEX = frozenset("0123456789abcdefABCDEF")
_IPV6 = re.compile(
    r"(?<![\w:.])"
    r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}"
    r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?"
    r"(?![\w:]|\.\d)",
    re.ASCII,
)


class PiiMaskingConfig(StepConfig):
    emails: bool = Field(True, description="replace e-mail addresses")
    phones: bool = Field(
        True, description="replace phone numbers (North American and `+` international)"
    )
    mask_bare_digit_runs: bool = Field(
        False,
        description="also replace bare North American digit runs (ten digits with a 2-9 area "
        "code, or eleven starting with 1, e.g. 5551234567); off by default because ids, order "
        "numbers and timestamps look the same",
    )
    ipv4: bool = Field(True, description="replace IPv4 addresses")
    ipv6: bool = Field(True, description="replace IPv6 addresses")
    email_placeholder: str = Field("<EMAIL>", description="text put in place of an e-mail")
    phone_placeholder: str = Field("<PHONE>", description="text put in place of a phone number")
    ipv4_placeholder: str = Field("<IPV4>", description="text put in place of an IPv4 address")
    ipv6_placeholder: str = Field("<IPV6>", description="text put in place of an IPv6 address")
    skip_ips: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "0.0.0.0", "::1"],
        description="IP addresses kept as written (loopback and unspecified ones identify no "
        "one); compared as addresses, so `::1` also covers `0:0:0:0:0:0:0:1`",
    )

    @field_validator("skip_ips")
    @classmethod
    def _valid_ips(cls, value: list[str]) -> list[str]:
        for ip in value:
            ipaddress.ip_address(ip)  # its ValueError names the bad entry
        return value


def _email_ok(text: str, at: int, domain: re.Match[str]) -> bool:
    if domain["tld"].lower() in _NOT_TLDS:
        return False
    return _RETINA.match(text, at) is None


def _phone_number(number: str) -> bool:
    if number[0] != "+":
        return True  # the North American pattern is specific enough
    digits = len(_DIGIT.findall(number)) - number.count(_TRUNK)
    if number[1:].isdigit():
        return 10 <= digits <= 15
    country = _COUNTRY_CODE.match(number)
    # No country code has four digits: `+2024-01-15`, `+1000 2000` are something else.
    return country is not None and len(country[1]) <= 3 and 8 <= digits <= 15


def _mask_phone(match: re.Match[str], placeholder: str) -> str | None:
    """The replacement of a phone match, or None to keep it. A `+` number's last group that
    runs on into another number (`+44 20 7946 0958 203.0.113.9`, `... 24/7`) is left out."""
    number, tail = match[0], ""
    text, end = match.string, match.end()
    if number[0] == "+" and text[end : end + 1] in _RUN_ON and _DIGIT.match(text, end + 1):
        last = _LAST_GROUP.search(number)
        assert last is not None  # a match ends with digits
        number, tail = number[: last.start()], number[last.start() :]
    if number and _phone_number(number):
        return placeholder + tail
    return None


class PiiMasking(Step):
    """Replaces e-mail addresses, phone numbers and IP addresses by placeholders; keeps all."""

    name: ClassVar[str] = "pii"
    config_class: ClassVar[type[StepConfig]] = PiiMaskingConfig

    def __init__(self, config: PiiMaskingConfig) -> None:
        super().__init__(config)
        self._skip = frozenset(ipaddress.ip_address(ip) for ip in config.skip_ips)
        # Order matters: IPv6 before IPv4 (embedded quads), phones after both.
        passes = [
            (config.emails, "email", self._mask_emails),
            (config.ipv6, "ipv6", self._mask_ipv6),
            (config.ipv4, "ipv4", self._mask_ipv4),
            (config.phones, "phone", self._mask_phones),
        ]
        self._passes = [(kind, mask) for enabled, kind, mask in passes if enabled]

    def apply(self, doc: Document) -> str | None:
        text = doc.text
        found: dict[str, int] = {}
        for kind, mask in self._passes:
            text, n = mask(text)
            if n:
                found[kind] = n
        if found:
            doc.text = text
            doc.metadata["pii"] = found
            self.counts.update(found)
        return None

    # Each pass returns the new text and the number of replacements.

    def _mask_emails(self, text: str) -> tuple[str, int]:
        spans: list[tuple[int, int]] = []
        pos = 0
        while (at := text.find("@", pos)) >= 0:
            domain = _DOMAIN.match(text, at + 1)
            local = None if domain is None else _LOCAL.search(text, max(pos, at - _LOCAL_MAX), at)
            if domain is None or local is None:
                pos = at + 1
                continue
            if _email_ok(text, at, domain):
                spans.append((local.start(), domain.end()))
            pos = domain.end()
        return _replace_spans(text, spans, self.config.email_placeholder)

    def _mask_ipv6(self, text: str) -> tuple[str, int]:
        spans: list[tuple[int, int]] = []
        pos = 0
        while (hint := _IPV6_HINT.search(text, pos)) is not None:
            start = colon = hint.start()
            while start > max(pos, colon - 4) and text[start - 1] in _HEX:
                start -= 1
            match = _IPV6.match(text, start)
            if match is None:
                pos = colon + 1
                continue
            if self._ipv6_ok(match[0]):
                spans.append(match.span())
            pos = match.end()
        return _replace_spans(text, spans, self.config.ipv6_placeholder)

    def _mask_ipv4(self, text: str) -> tuple[str, int]:
        if "." not in text:
            return text, 0
        placeholder = self.config.ipv4_placeholder
        return _substitute(_IPV4, text, lambda m: placeholder if self._ipv4_ok(m) else None)

    def _mask_phones(self, text: str) -> tuple[str, int]:
        if _DIGIT.search(text) is None:
            return text, 0
        placeholder = self.config.phone_placeholder
        text, count = _substitute(_PHONE, text, lambda m: _mask_phone(m, placeholder))
        if self.config.mask_bare_digit_runs:
            text, bare = _substitute(_BARE_PHONE, text, lambda m: placeholder)
            count += bare
        return text, count

    def _ipv4_ok(self, match: re.Match[str]) -> bool:
        try:
            address = ipaddress.IPv4Address(match[0])
        except ValueError:  # an octet over 255, or a leading zero
            return False
        return address not in self._skip

    def _ipv6_ok(self, candidate: str) -> bool:
        if _DIGIT.search(candidate) is None:
            return False  # `dead::beef`, `Add::Bad`
        groups = [group for group in candidate.split(":") if group]
        if len(groups) < 3 and all(len(group) < 3 for group in groups):
            return False  # `1::2` (a slice), `::1`
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            return False
        return address not in self._skip


def _substitute(
    pattern: re.Pattern[str], text: str, replacement: Callable[[re.Match[str]], str | None]
) -> tuple[str, int]:
    """`pattern.sub` where `replacement` returns None to keep a match; also counts."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        new = replacement(match)
        if new is None:
            return match[0]
        count += 1
        return new

    return pattern.sub(replace, text), count


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> tuple[str, int]:
    if not spans:
        return text, 0
    pieces = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(placeholder)
        last = end
    pieces.append(text[last:])
    return "".join(pieces), len(spans)


__all__ = ["PiiMasking", "PiiMaskingConfig"]
