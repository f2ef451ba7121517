"""Public responses prepared once: body, gzip variant, validators and every header, ready to send.

A `Representation` is built when content is first rendered (in a worker thread) and then answered
many times: a conditional GET is decided from its cached ETag / Last-Modified before any body is
touched, and the compressed variant is made once, next to the plain bytes. Both the in-process
response cache (`app.delivery.cache`) and the route handlers answer from it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Protocol

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import Settings

JSON_MEDIA_TYPE = "application/json"
GZIP_MIN_SIZE = 1024
GZIP_LEVEL = 6
VARY = "Accept-Encoding, Accept-Language"

RawHeaders = tuple[tuple[bytes, bytes], ...]

# Where the public response cache (app.delivery.cache) leaves a `ResponseSlot` in the ASGI scope
# of a request it could not answer, for the handler's answer to fill.
CACHE_SLOT = "druginfo.response_cache_slot"
# Where the response cache leaves, on a hit, the route template of the handler that made the answer:
# a hit skips routing, and metrics and access lines still need the template (never the raw path).
CACHED_ROUTE = "druginfo.cached_route"


class ResponseSlot(Protocol):
    def put(self, representation: Representation, route: str | None) -> None: ...


def remember(request: Request, representation: Representation) -> None:
    """Keep `representation` as the answer to this request for the rest of the content generation."""
    slot: ResponseSlot | None = request.scope.get(CACHE_SLOT)
    if slot is not None:
        route = request.scope.get("route")
        slot.put(representation, getattr(route, "path_format", None) or getattr(route, "path", None))


@lru_cache(maxsize=1024)
def http_date(moment: dt.datetime) -> str:
    # Cached: most answers of a generation carry the same Last-Modified (its change time).
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def cache_control(settings: Settings) -> str:
    return (
        f"public, max-age={settings.cache_max_age}, "
        f"stale-while-revalidate={settings.cache_stale_while_revalidate}"
    )


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an `Accept-Encoding` value allows gzip (q=0 refuses it; `*` allows it)."""
    allowed: dict[str, bool] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        allowed[name.strip()] = quality > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


@lru_cache(maxsize=256)
def _parse_http_date(value: str) -> dt.datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def etag_matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    if if_none_match == etag:
        return True
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def not_modified_since(if_modified_since: str, last_modified: dt.datetime | None) -> bool:
    if last_modified is None:
        return False
    since = _parse_http_date(if_modified_since)
    return since is not None and last_modified.replace(microsecond=0) <= since


def _encode(headers: Iterable[tuple[str, str]]) -> RawHeaders:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)


class _Unset:
    """The gzip variant of a representation no client has asked for yet."""


_UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of a representation: its bytes, ETag and the headers of a 200 and a 304."""

    body: bytes
    etag: str
    ok_headers: RawHeaders
    not_modified_headers: RawHeaders


class Representation:
    """A public JSON answer, serialized and validated once; its gzip variant made once, when a
    client first accepts it (a client that never asks for gzip costs no compression).

    Kept by the published store and the response cache and read from several threads: two first
    gzip requests at once may both compress, and store the same bytes.
    """

    __slots__ = ("_common", "_gzipped", "_media_type", "last_modified", "plain")

    def __init__(
        self,
        plain: Variant,
        last_modified: dt.datetime | None,
        *,
        common: list[tuple[str, str]],
        media_type: str,
    ) -> None:
        self.plain = plain
        self.last_modified = last_modified
        self._common = common
        self._media_type = media_type
        # Unknown until asked for; then the variant, or None (small body, or gzip saved nothing).
        self._gzipped: Variant | _Unset | None = _UNSET if len(plain.body) >= GZIP_MIN_SIZE else None

    @property
    def body(self) -> bytes:
        return self.plain.body

    @property
    def etag(self) -> str:
        return self.plain.etag

    @property
    def gzipped(self) -> Variant | None:
        """The gzip variant (compressed now if it has not been yet); None where gzip does not pay."""
        gzipped = self._gzipped
        if isinstance(gzipped, _Unset):
            body, etag = self.plain.body, self.plain.etag
            compressed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            # A different strong ETag per encoding: the bytes differ (RFC 9110 §8.8.3).
            gzipped = (
                _variant(
                    compressed,
                    etag[:-1] + '-gzip"',
                    self._common,
                    encoding="gzip",
                    media_type=self._media_type,
                )
                if len(compressed) < len(body)
                else None
            )
            self._gzipped = gzipped
        return gzipped

    @property
    def size(self) -> int:
        """Bytes held: the body, and its gzip variant once made."""
        gzipped = self._gzipped
        return len(self.plain.body) + (len(gzipped.body) if isinstance(gzipped, Variant) else 0)

    def choose(
        self, accept_encoding: str | None, if_none_match: str | None, if_modified_since: str | None
    ) -> tuple[int, RawHeaders, bytes]:
        """Status, headers and body for a request with these headers (304 decided before any body)."""
        variant = self.plain
        if accept_encoding and self._gzipped is not None and accepts_gzip(accept_encoding):
            variant = self.gzipped or variant
        if if_none_match is not None:
            unchanged = etag_matches(if_none_match, variant.etag)
        elif if_modified_since is not None:
            unchanged = not_modified_since(if_modified_since, self.last_modified)
        else:
            unchanged = False
        if unchanged:
            return 304, variant.not_modified_headers, b""
        return 200, variant.ok_headers, variant.body

    def response(self, request: Request) -> Response:
        headers = request.headers
        status, raw_headers, body = self.choose(
            headers.get("accept-encoding"), headers.get("if-none-match"), headers.get("if-modified-since")
        )
        return PreparedResponse(status, raw_headers, body)


class PreparedResponse(Response):
    """A Starlette response whose headers were computed in advance."""

    def __init__(self, status_code: int, raw_headers: RawHeaders, body: bytes) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        # A fresh list: outer middleware (CORS, request ids) appends to it in place.
        self.raw_headers = list(raw_headers)


def _variant(
    body: bytes, etag: str, common: list[tuple[str, str]], *, encoding: str | None, media_type: str
) -> Variant:
    validators = [("ETag", etag), *common]
    ok = [("Content-Type", media_type), ("Content-Length", str(len(body))), *validators]
    if encoding:
        ok.append(("Content-Encoding", encoding))
    return Variant(body=body, etag=etag, ok_headers=_encode(ok), not_modified_headers=_encode(validators))


def prepare(
    body: bytes,
    settings: Settings,
    *,
    last_modified: dt.datetime | None,
    content_language: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    media_type: str = JSON_MEDIA_TYPE,
) -> Representation:
    """Validators and headers, computed once for `body` (and, for bodies over ~1 kB, a gzip variant
    when first asked for: `Representation.gzipped`)."""
    common = [("Cache-Control", cache_control(settings)), ("Vary", VARY)]
    if last_modified is not None:
        common.append(("Last-Modified", http_date(last_modified)))
    if content_language:
        common.append(("Content-Language", content_language))
    if extra_headers:
        # A caller's header replaces the default of the same name (e.g. the change feed's no-cache).
        overridden = {name.lower() for name in extra_headers}
        common = [(k, v) for k, v in common if k.lower() not in overridden]
        common.extend(extra_headers.items())
    plain = _variant(body, strong_etag(body), common, encoding=None, media_type=media_type)
    return Representation(plain, last_modified, common=common, media_type=media_type)


def public_json(
    request: Request,
    settings: Settings,
    body: bytes,
    etag: str | None = None,
    last_modified: dt.datetime | None = None,
    *,
    content_language: str | None = None,
    extra_headers: dict[str, str] | None = None,
    media_type: str = JSON_MEDIA_TYPE,
) -> Response:
    """A cacheable public answer (JSON unless told otherwise), or 304 when the client's copy is current.

    The prepared answer is kept by the response cache for the same request until the content
    generation changes: use this only for answers that depend on nothing but the path, the query
    string, Accept-Language, Host and published content. `etag` is recomputed from `body`.
    """
    del etag
    representation = prepare(
        body,
        settings,
        last_modified=last_modified,
        content_language=content_language,
        extra_headers=extra_headers,
        media_type=media_type,
    )
    remember(request, representation)
    return representation.response(request)


def model_response(model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str]) -> Response:
    """`model` as the JSON its route's response model would give, from a sync handler.

    FastAPI validates a returned object against the response model again, and for a sync handler
    does it in a worker thread: a second hop per request. The handler already built this very model.
    """
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
