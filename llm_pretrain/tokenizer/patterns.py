"""Pre-tokenization regexes: text is cut into pieces by these before BPE, and no token crosses
a piece boundary. The exact pattern is stored with the tokenizer."""

from __future__ import annotations

# GPT-2's pattern as released (Radford et al. 2019, openai/gpt-2 `encoder.py`).
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# GPT-4's (tiktoken `cl100k_base`): case-insensitive contractions, numbers in groups of at most
# three digits, punctuation runs with their line ends, newlines apart from other whitespace.
GPT4 = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

PRESETS = {"gpt2": GPT2, "gpt4": GPT4}


def resolve_pattern(name_or_regex: str) -> str:
    """A preset's regex, or the argument itself when it is not a preset name."""
    return PRESETS.get(name_or_regex, name_or_regex)
