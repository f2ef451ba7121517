"""User text → a search query we build ourselves; no user text ever reaches MATCH or to_tsquery raw.

Words are letters and digits only (every operator, quote, bracket, colon and control character is
dropped); `"quoted words"` make a phrase, an unbalanced quote is simply ignored; a trailing `*`, or
the last word of the text (type-ahead), matches as a prefix. Every word and phrase must match.
The engine-specific query strings are compiled from these tokens, with every token quoted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_LENGTH = 500
MAX_ITEMS = 12
MAX_WORD_LENGTH = 60
MIN_PREFIX_LENGTH = 2
# Stemmers cut suffixes, so "medicati" (typed on the way to "medication") is no prefix of the
# indexed stem "medic": prefix terms also try up to three characters shorter, not below this length.
MIN_STEM_PREFIX = 4
MAX_PREFIX_TRIM = 3
# Endings the English stemmers cut, whole or over several steps (Porter in SQLite's FTS5, Snowball
# in PostgreSQL: "-alization" → "-alize" → "-al" → ""). A word that stops part-way into one
# ("medicatio", on the way to "medication", whose stem is "medic") is searched without it: three
# characters back is not always enough, and a prefix longer than the stem in the index finds nothing.
# A word that ends in a whole one ("medication") needs no more: the engine stems the word itself.
ENGLISH_ENDINGS = frozenset(
    """
    ation ations ational ationally ization izations alization alizations ication ications ically
    ment ments ement ements iveness fulness ousness ously ability abilities ibility ibilities ity
    ities ence ences ance ances ator ators ative atives
    """.split()  # noqa: SIM905  (a word list reads better as text)
)
_ENGLISH_ENDING_STARTS = frozenset(e[:n] for e in ENGLISH_ENDINGS for n in range(1, len(e) + 1))
# The longest prefix searched (longer typed words are cut to it). SQLite's FTS5 tables keep a
# prefix index for every length from 2 to this (migration 0007): a prefix of an indexed length is
# looked up like a word, any other is a merge of every matching term's postings, which for a common
# word ("fati"* on 10,000 drugs) costs more than the rest of the search together.
MAX_PREFIX_LENGTH = 8

_PHRASE_OR_WORD = re.compile(r'"([^"]*)"|([^"]+)')
# In ASCII text the letters and digits are these (`_words`); a `*` right after a word marks a prefix.
_ASCII_WORD = re.compile(r"([A-Za-z0-9]+)(\*?)", re.ASCII)

# SQLite's FTS5 has no stop-word list; PostgreSQL's `english` configuration drops these (the Snowball
# list), so both engines treat "the", "of", ... the same, and a query of stop-words only is empty.
ENGLISH_STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can did do does doing don down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own s
    same she should so some such t than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with you your yours yourself yourselves
    """.split()  # noqa: SIM905  (a word list reads better as text)
)


@dataclass(frozen=True, slots=True)
class Term:
    word: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    items: tuple[Term | Phrase, ...]

    @property
    def empty(self) -> bool:
        return not self.items

    def key(self) -> str:
        """A stable text form (for cursors)."""
        return " ".join(
            f'"{" ".join(i.words)}"' if isinstance(i, Phrase) else i.word + ("*" if i.prefix else "")
            for i in self.items
        )


def _clean(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text  # what nearly every query is: NFKC leaves it as it is, and it has no C* character
    text = unicodedata.normalize("NFKC", text)
    # Control, format, private-use and unassigned characters (Unicode category C*) become spaces.
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def _words(text: str) -> list[tuple[str, bool]]:
    """Runs of letters and digits (with the combining marks that belong to them, as in "दवा"),
    each with whether a `*` follows it; everything else separates words."""
    if text.isascii():
        # The same words, found by the regex engine instead of a Python loop over characters.
        return [
            (match.group(1).lower(), match.group(2) == "*")
            for match in _ASCII_WORD.finditer(text)
            if len(match.group(1)) <= MAX_WORD_LENGTH
        ]
    found: list[tuple[str, bool]] = []
    word: list[str] = []

    def end(star: bool) -> None:
        if word and len(word) <= MAX_WORD_LENGTH:
            found.append(("".join(word).casefold(), star))
        word.clear()

    for ch in text:
        kind = unicodedata.category(ch)[0]
        if kind in "LN" or (kind == "M" and word):
            word.append(ch)
        else:
            end(ch == "*")
    end(False)
    return found


def parse_query(text: str) -> ParsedQuery:
    """Tokens of the user's text: terms (maybe prefix) and phrases, at most MAX_ITEMS of them."""
    text = _clean(text[:MAX_QUERY_LENGTH])
    if text.count('"') % 2:
        # An unbalanced quote opens no phrase: drop the last one and read the rest as words.
        cut = text.rfind('"')
        text = text[:cut] + " " + text[cut + 1 :]
    items: list[Term | Phrase] = []
    for match in _PHRASE_OR_WORD.finditer(text):
        if match.group(1) is not None:
            words = tuple(w for w, _ in _words(match.group(1)))
            if len(words) == 1:
                items.append(Term(words[0]))
            elif words:
                items.append(Phrase(words))
        else:
            items.extend(
                Term(w, prefix=star and len(w) >= MIN_PREFIX_LENGTH) for w, star in _words(match.group(2))
            )
    # Type-ahead: the last word is still being typed unless the text ends in a space or a phrase.
    stripped = text.rstrip()
    if items and isinstance(items[-1], Term) and stripped == text and not stripped.endswith('"'):
        last = items[-1]
        if len(last.word) >= MIN_PREFIX_LENGTH:
            items[-1] = Term(last.word, prefix=True)
    unique = list(dict.fromkeys(items))
    return ParsedQuery(tuple(unique[:MAX_ITEMS]))


def stems(analyzer: str) -> bool:
    return analyzer != "simple"


def significant(query: ParsedQuery, analyzer: str) -> tuple[Term | Phrase, ...]:
    """The query's items without stop-words (for English), as both engines would see them."""
    if analyzer != "english":
        return query.items
    kept: list[Term | Phrase] = []
    for item in query.items:
        if isinstance(item, Term):
            if item.word not in ENGLISH_STOP_WORDS:
                kept.append(item)
        elif not all(w in ENGLISH_STOP_WORDS for w in item.words):
            kept.append(item)
    return tuple(kept)


def search_prefix(word: str, analyzer: str) -> str:
    """The prefix a prefix term matches: the word itself, or (stemmed languages) a few characters
    shorter, so that a partly typed word still reaches the stems in the index ("constipat" → "constip");
    at most MAX_PREFIX_LENGTH characters."""
    if stems(analyzer):
        cut = max(MAX_PREFIX_TRIM, _typed_ending(word) if analyzer == "english" else 0)
        word = word[: max(len(word) - cut, min(len(word), MIN_STEM_PREFIX))]
    return word[:MAX_PREFIX_LENGTH]


def _typed_ending(word: str) -> int:
    """How many of the word's last characters are an ending the stemmer cuts, typed part-way
    (0 when the word ends in a whole one, or in none)."""
    lengths = range(len(word) - MIN_STEM_PREFIX, 0, -1)
    if any(word[-length:] in ENGLISH_ENDINGS for length in lengths):
        return 0
    return next((length for length in lengths if word[-length:] in _ENGLISH_ENDING_STARTS), 0)


def fts5_match(query: ParsedQuery, analyzer: str) -> str | None:
    """An FTS5 MATCH expression: every token double-quoted, so none can act as syntax."""
    return " AND ".join(fts5_item(phrases) for phrases in fts5_items(query, analyzer)) or None


def fts5_items(query: ParsedQuery, analyzer: str) -> list[tuple[str, ...]]:
    """Each item that must match, as the FTS5 phrases any of which it matches."""
    items: list[tuple[str, ...]] = []
    for item in significant(query, analyzer):
        if isinstance(item, Phrase):
            items.append(('"' + " ".join(item.words) + '"',))
        elif item.prefix:
            # The exact word too, so whole-word matches outrank mere prefix matches. Only the
            # shortest prefix: every longer variant matches a subset of it, and each prefix is a scan
            # of the index's terms (three times the cost of the whole query, measured on 10,000 drugs).
            items.append((f'"{item.word}"', f'"{search_prefix(item.word, analyzer)}"*'))
        else:
            items.append((f'"{item.word}"',))
    return items


def fts5_item(phrases: tuple[str, ...]) -> str:
    """One item's FTS5 expression: its phrase, or any of them."""
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def tsquery_text(query: ParsedQuery, analyzer: str) -> str | None:
    """A `to_tsquery` text: every token single-quoted, combined with & / | / <-> only."""
    return " & ".join(tsquery_items(query, analyzer)) or None


def tsquery_items(query: ParsedQuery, analyzer: str) -> list[str]:
    """The `to_tsquery` text of each item that must match (the query is all of them)."""
    parts = []
    for item in significant(query, analyzer):
        if isinstance(item, Phrase):
            parts.append("(" + " <-> ".join(f"'{w}'" for w in item.words) + ")")
        elif item.prefix:
            options = [f"'{item.word}'", f"'{search_prefix(item.word, analyzer)}':*"]
            parts.append("(" + " | ".join(options) + ")")
        else:
            parts.append(f"'{item.word}'")
    return parts
