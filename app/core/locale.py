"""Locales: BCP 47 tags, `Accept-Language` parsing and lookup with region fallback (RFC 4647 §3.4).

Pure functions plus one request dependency that says which locales the client asked for, in order
of preference; which of them we can serve depends on the content, so the delivery layer decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from app.core.errors import InvalidParameters, ProblemField

MAX_TAG_LENGTH = 35
# The well-formed tags we accept: language, optional script, region and variants (RFC 5646 §2.1,
# without extlang, extensions and private use, which no content of ours needs), in any case, with
# `-` or `_` between subtags. Only constructs that mean the same in ECMA-262 (JSON Schema) and Python,
# so the OpenAPI can say exactly what is accepted (`LOCALE_PATTERN`).
_TAG_BODY = (
    r"(?P<language>[A-Za-z]{2,3})"
    r"(?:[-_](?P<script>[A-Za-z]{4}))?"
    r"(?:[-_](?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:[-_](?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)"
)
_TAG = re.compile(_TAG_BODY)
LOCALE_PATTERN = "^" + re.sub(r"\?P<\w+>", "?:", _TAG_BODY) + "$"
LOCALE_SCHEMA = {"pattern": LOCALE_PATTERN, "maxLength": MAX_TAG_LENGTH}
_MAX_ACCEPT_LANGUAGE = 2000
_MAX_RANGES = 20
_Q_VALUE = re.compile(r"^q=(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$", re.IGNORECASE)


def normalize_tag(tag: str) -> str | None:
    """The canonical form of a well-formed tag (`PT_br` → `pt-BR`, `zh-hant-tw` → `zh-Hant-TW`), or None."""
    if len(tag) > MAX_TAG_LENGTH:
        return None
    match = _TAG.fullmatch(tag)
    if match is None:
        return None
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts.extend(v.lower() for v in re.split("[-_]", match["variants"]) if v)
    return "-".join(parts)


def language_of(tag: str) -> str:
    """The primary language subtag: `hi-IN` → `hi`."""
    return tag.split("-", 1)[0].lower()


def truncations(tag: str) -> list[str]:
    """The tag and its ever shorter prefixes: `zh-Hant-TW` → `zh-Hant-TW`, `zh-Hant`, `zh`."""
    subtags = tag.split("-")
    return ["-".join(subtags[:n]) for n in range(len(subtags), 0, -1)]


def fallback_chain(locale: str, default: str) -> tuple[str, ...]:
    """Where a text is looked for, most specific first, ending with the default locale."""
    chain = [t for t in truncations(locale) if t != default]
    return (*chain, default)


def parse_accept_language(header: str) -> tuple[str, ...]:
    """Language tags from an `Accept-Language` header, best first; malformed entries are skipped.

    `*` and `q=0` entries are dropped (the default locale is always the last resort anyway).
    """
    weighted: list[tuple[float, int, str]] = []
    for index, entry in enumerate(header[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_RANGES]):
        tag_text, *params = (p.strip() for p in entry.split(";"))
        quality = 1.0
        for param in params:
            # Accept-Language takes only `q`; anything else makes the entry malformed (skipped).
            quality = float(param[2:] or "0") if _Q_VALUE.match(param) else -1.0
        tag = normalize_tag(tag_text) if tag_text != "*" else None
        if tag is not None and quality > 0:
            weighted.append((quality, index, tag))
    weighted.sort(key=lambda item: (-item[0], item[1]))
    seen: dict[str, None] = {}
    for _, _, tag in weighted:
        seen.setdefault(tag)
    return tuple(seen)


def negotiate(requested: Sequence[str], available: Callable[[], Iterable[str]], default: str) -> str:
    """RFC 4647 lookup: the first requested tag (or a shorter prefix of it) that content exists in.

    `available` is called at most once, and only when a request names something other than the default.
    """
    known: set[str] | None = None
    for tag in requested:
        for candidate in truncations(tag):
            if candidate == default:
                return default
            if known is None:
                known = set(available())
            if candidate in known:
                return candidate
    return default


# The `locale` query parameter (as `Query(**…)`, or `Field(None, **…)` in a model of a query).
LOCALE_PARAMETER: dict[str, Any] = {
    "max_length": 100,
    "description": "BCP 47 locale, e.g. `fr` or `hi-IN`; overrides `Accept-Language`. "
    "Items without a translation fall back to the default locale.",
    "json_schema_extra": LOCALE_SCHEMA,
}


async def requested_locales(
    request: Request, locale: Annotated[str | None, Query(**LOCALE_PARAMETER)] = None
) -> tuple[str, ...]:
    """The locales the client asked for, best first: `?locale=`, else `Accept-Language`."""
    if locale is not None:
        tag = normalize_tag(locale)
        if tag is None:
            raise InvalidParameters(
                f"{locale[:40]!r} is not a BCP 47 language tag (e.g. `en`, `fr-CA`, `zh-Hant`).",
                errors=[
                    ProblemField(
                        pointer="#/query/locale", detail="invalid language tag", code="invalid_locale"
                    )
                ],
            )
        return (tag,)
    return parse_accept_language(request.headers.get("accept-language", ""))


RequestedLocales = Annotated[tuple[str, ...], Depends(requested_locales)]
