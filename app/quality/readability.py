"""Flesch–Kincaid reading grade of patient text (shown to editors only).

grade = 0.39 × (words / sentences) + 11.8 × (syllables / words) − 15.59 (Kincaid et al., 1975).
Syllables are counted with Pyphen's hyphenation dictionaries (the approach textstat used before it
moved to NLTK's CMU dictionary, which needs a download at run time). Markdown syntax and URLs are
removed first. Empty text has no grade (`None`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyphen

_URL = re.compile(r"\(?https?://\S+\)?|\]\([^)]*\)")
_MARKUP = re.compile(r"[#*_`>\[\]|~]")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n\s*\n|\n\s*[-+*]\s")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@lru_cache(maxsize=1)
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=4096)
def syllables(word: str) -> int:
    """Syllables of one word: hyphenation points + 1, never fewer than its vowel groups suggest − 1."""
    lower = word.lower()
    by_dictionary = len(_dictionary().positions(lower)) + 1
    groups = len(_VOWEL_GROUPS.findall(lower))
    if lower.endswith("e") and groups > 1 and not lower.endswith(("le", "ee")):
        groups -= 1
    return max(1, by_dictionary, groups)


def reading_grade(text: str | None) -> float | None:
    """The Flesch–Kincaid grade of `text` (markdown allowed), rounded to one decimal; at least 0 (the
    formula goes below zero for a few short words, which no school grade means)."""
    if not text:
        return None
    plain = _MARKUP.sub(" ", _URL.sub(" ", text))
    words = _WORD.findall(plain)
    if not words:
        return None
    sentences = max(1, len([s for s in _SENTENCE_END.split(plain.strip()) if _WORD.search(s)]))
    total_syllables = sum(syllables(w) for w in words)
    grade = 0.39 * (len(words) / sentences) + 11.8 * (total_syllables / len(words)) - 15.59
    return max(0.0, round(grade, 1))
