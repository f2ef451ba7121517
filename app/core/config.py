"""Settings: every knob has a default and help text; prefix DRUGINFO_ (and plain DATABASE_URL, PORT)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "druginfo.db"
ADMIN_PREFIX = "/api/v1/admin"
# A CSP source expression for frame-ancestors: a keyword, or scheme://host[:port] (host may start
# with `*.`), or a bare scheme such as `https:`.
_FRAME_ANCESTOR = re.compile(
    r"\*|'self'|'none'|[a-z][a-z0-9+.-]*:"
    r"|[a-z][a-z0-9+.-]*://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d{1,5}|\*))?"
)


def setting_name(field: str) -> str:
    """The environment variable of a setting (`DATABASE_URL` and `PORT` have no prefix)."""
    return {"database_url": "DATABASE_URL", "port": "PORT"}.get(field, f"DRUGINFO_{field.upper()}")


def normalize_database_url(url: str) -> str:
    """Turn the URL people write into the one SQLAlchemy needs (picks the driver)."""
    url = url.strip()
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    if url.startswith("sqlite:") and not url.startswith("sqlite+pysqlite:"):
        return "sqlite+pysqlite:" + url[len("sqlite:") :]
    return url


class Settings(BaseSettings):
    """Runtime configuration, read from the environment (and a `.env` file if present)."""

    model_config = SettingsConfigDict(env_prefix="DRUGINFO_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        validation_alias=AliasChoices("DATABASE_URL", "DRUGINFO_DATABASE_URL"),
        description="Database URL: `sqlite:////abs/path.db` or `postgresql://user@host:5432/db`.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `druginfo serve` binds to.")
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("PORT", "DRUGINFO_PORT"),
        description="TCP port `druginfo serve` listens on.",
    )
    workers: int = Field(default=1, ge=1, le=64, description="Uvicorn worker processes for `druginfo serve`.")
    default_locale: str = Field(default="en", description="Locale served when no other is asked for.")
    allow_single_person_publish: bool = Field(
        default=False,
        description="Let a key publish changes that only it authored (turns the four-eyes rule off).",
    )
    cache_max_age: int = Field(
        default=60, ge=0, description="`Cache-Control: max-age` (seconds) on public GET responses."
    )
    cache_stale_while_revalidate: int = Field(
        default=300, ge=0, description="`stale-while-revalidate` (seconds) on public GET responses."
    )
    cache_poll_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description=(
            "Seconds between reads of the content generation by each process: the bound on how long a"
            " process may serve content another process has replaced (PostgreSQL NOTIFY is usually faster)."
        ),
    )
    cache_max_entries: int = Field(
        default=4096,
        ge=0,
        description="Most prepared public answers kept in memory per process (LRU; 0 turns the cache off).",
    )
    cache_max_documents: int = Field(
        default=1024,
        ge=0,
        description="Most rendered drug documents kept in memory per process (LRU), reused across lists.",
    )
    cors_allow_origins: list[str] = Field(
        default=["*"], description="Origins allowed to read the public API from a browser (GET only)."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long a SQLite writer waits for the lock before giving up."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes (chunked bodies are counted as they stream); "
        "larger bodies get `413`.",
    )
    max_import_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest bundle `POST /api/v1/admin/import` accepts, in bytes.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    embed_frame_ancestors: list[str] = Field(
        default=["*"],
        description=(
            "Origins allowed to frame the embeddable widgets (`/embed/...`), as the CSP "
            "`frame-ancestors` list (JSON list): `*`, `'self'`, `'none'` or origins like "
            "`https://portal.example.org` / `https://*.example.org`."
        ),
    )
    access_log: bool = Field(
        default=True, description="Write one JSON line per request (`druginfo.access`) from `druginfo serve`."
    )
    db_connect_timeout: int = Field(
        default=5, ge=1, description="Seconds to wait for a new PostgreSQL connection before answering 503."
    )
    db_pool_timeout: float = Field(
        default=10, gt=0, description="Seconds a request waits for a free pooled connection before a 503."
    )
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics on `/metrics`.")
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests per minute per client address (a token bucket per process); 0 = off.",
    )
    admin_rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests per minute per API key on `/api/v1/admin` (per process); 0 = off.",
    )
    admin_cors_origins: list[str] = Field(
        default=[],
        description="Origins allowed to call the admin API from a browser (JSON list); none by default.",
    )
    hsts: bool = Field(
        default=False,
        description="Send `Strict-Transport-Security` (only when served over HTTPS, e.g. behind TLS).",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies trusted for `X-Forwarded-For`/`-Proto` (comma-separated; `*` = any).",
    )
    public_url: str = Field(
        default="",
        description="The origin clients reach the service at (`https://drugs.example.org`): absolute "
        "links (JSON-LD and FHIR ids, Atom, `Link` headers, embeds) use it whatever `Host` a request "
        "sends; empty = each request's own `Host` and scheme.",
    )
    max_header_bytes: int = Field(
        default=32768,
        ge=1024,
        description="Largest request line plus headers accepted (bytes); larger gets 431.",
    )
    header_timeout: float = Field(
        default=10,
        gt=0,
        description="Seconds a client has to send a complete request head; then it is closed.",
    )
    timeout_keep_alive: int = Field(
        default=5, ge=1, description="Seconds an idle keep-alive connection is kept."
    )
    timeout_graceful_shutdown: int = Field(
        default=8, ge=1, description="Seconds running requests get to finish on SIGTERM (Docker kills at 10)."
    )
    limit_concurrency: int = Field(
        default=0,
        ge=0,
        description="Connections plus tasks per worker before new requests get 503 (a problem document "
        "with Retry-After); 0 = no cap.",
    )
    backlog: int = Field(
        default=2048, ge=1, description="Pending-connection queue length of the listening socket."
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry instrumentation (spans, metrics and logs to the "
        "providers an installed OpenTelemetry SDK configures). Off: not even the check for a configured "
        "provider, ~3 µs of every request; metrics are at /metrics either way.",
    )
    gc_young_threshold: int = Field(
        default=10_000,
        ge=0,
        le=10_000_000,
        description="Allocations between the garbage collector's young collections (Python's default "
        "is 700), with 20 young collections per older one either way; 0 keeps Python's defaults. A "
        "full collection of a warm process pauses every request for ~100 ms: rarer is better.",
    )
    search_concurrency: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Searches that run their database work at once in this process; the rest wait "
        "their turn in arrival order. Unset: 1 on SQLite (a search is CPU work in this process: more "
        "at once only share the CPU, and the slowest wait longest), 4 on PostgreSQL (a search waits "
        "on the server's round trips). 0 = no limit besides the worker threads.",
    )
    webhooks_enabled: bool = Field(
        default=True,
        description="Run the webhook delivery worker (a background thread) in this process.",
    )
    webhook_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between the webhook worker's looks for new publication events and due retries.",
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description=(
            "First webhook retry delay in seconds; later retries wait 6x, 24x, 120x, 720x and 4320x as "
            "long (5 s, 30 s, 2 min, 10 min, 1 h, 6 h... with the default)."
        ),
    )
    webhook_max_attempts: int = Field(
        default=7, ge=1, le=20, description="Attempts per webhook delivery before it is marked failed."
    )
    webhook_allowed_hosts: list[str] = Field(
        default=[],
        description=(
            "Webhook target hosts (names or IP literals) exempt from the SSRF check that refuses "
            "loopback, private, link-local and other non-public addresses (JSON list)."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        url = normalize_database_url(value)
        if not url.startswith(("sqlite+pysqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "must be sqlite:////abs/path.db (or sqlite:///rel/path.db) or postgresql://user@host/db"
            )
        return url

    @field_validator("embed_frame_ancestors")
    @classmethod
    def _check_frame_ancestors(cls, values: list[str]) -> list[str]:
        # Each entry goes verbatim into a Content-Security-Policy header: anything but a plain
        # source expression (no spaces, semicolons or commas) could inject directives.
        cleaned = [v.strip() for v in values]
        for value in cleaned:
            if not _FRAME_ANCESTOR.fullmatch(value):
                raise ValueError(
                    f"{value!r} is not a frame-ancestors source: use *, 'self', 'none' or an origin "
                    "such as https://portal.example.org"
                )
        if not cleaned:
            raise ValueError("give at least one source (use 'none' to forbid framing)")
        if "'none'" in cleaned and len(cleaned) > 1:
            raise ValueError("'none' cannot be combined with other sources")
        return cleaned

    @field_validator("public_url")
    @classmethod
    def _origin_only(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError("must be an origin: http(s)://host[:port], without a path")
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, values: list[str]) -> list[str]:
        return [v.strip().lower().strip("[]") for v in values if v.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
