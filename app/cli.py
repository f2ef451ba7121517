"""The `druginfo` command: serve, migrate, seed (and the admin tools as they arrive).

Exit codes: 0 done; 1 refused (a file that is not a bundle, an invalid bundle, an unknown key),
or a bug (with its traceback); 2 a bad command line; 69 the database cannot do the work:
unreachable, not migrated to this release, busy or full (what the API answers 503 or 507 for);
78 a setting (environment variable or `.env`) is invalid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import sqlalchemy as sa
import typer
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core.config import Settings, get_settings, setting_name
from app.core.db import (
    Database,
    DatabaseErrorKind,
    classify_database_error,
    make_null_pool_engine,
    session_scope,
)
from app.core.errors import AppError
from app.ops.service import expected_heads

if TYPE_CHECKING:
    from app.bundle.schemas import Bundle
    from app.bundle.service import ImportReport

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client (app.core.metrics)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = PROJECT_ROOT / "seed_data" / "bundle.json"

EXIT_REFUSED = 1
EXIT_DATABASE = 69  # sysexits.h EX_UNAVAILABLE: scripts can tell "try again later" from "fix the input"
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a setting is wrong

cli = typer.Typer(
    help="druginfo: a patient-information content service.",
    epilog=(
        "Exit codes: 0 done; 1 refused (bad input) or a bug; 2 bad command line; 69 the database"
        " is unreachable, not migrated, busy or full; 78 a setting is invalid."
    ),
    no_args_is_help=True,
    add_completion=False,
)


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """One line on stderr, then exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def refuse(what: str, exc: AppError) -> NoReturn:
    """Say why a bundle was refused, every problem with its JSON pointer."""
    typer.echo(f"{what} refused: {exc}", err=True)
    for problem in exc.errors or []:
        typer.echo(f"  {problem.pointer}: {problem.detail}", err=True)
    raise typer.Exit(EXIT_REFUSED) from exc


def shown_url(database_url: str) -> str:
    """The URL as people write it, for messages: no password, no query (libpq takes `password=` there)."""
    url = sa.make_url(database_url)
    return url.set(drivername=url.get_backend_name(), query={}).render_as_string(hide_password=True)


def database_error_message(exc: sa.exc.SQLAlchemyError, kind: DatabaseErrorKind, database_url: str) -> str:
    """One line for a database error the app classifies as the operator's problem, without SQL."""
    # The driver's own words, first line only (PostgreSQL adds the statement on later lines), and
    # of libpq's "connection to server at ... failed: FATAL:  <reason>" only the reason.
    lines = [line.strip() for line in str(getattr(exc, "orig", None) or exc).splitlines() if line.strip()]
    line = next((text for text in lines if "failed: " in text), lines[0] if lines else type(exc).__name__)
    reason = line.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    if kind == "full":
        return f"the database at {shown_url(database_url)} has no room left ({reason})"
    return f"cannot use the database at {shown_url(database_url)} ({reason})"


def require_migrated(settings: Settings) -> None:
    """Exit (69) unless the schema is at this release's migration head, as `/readyz` requires."""
    current, heads = schema_revisions(settings), expected_heads()
    if current == heads:
        return
    where = shown_url(settings.database_url)
    if current:
        fail(
            f"the database at {where} is at revision {', '.join(sorted(current))}, this release needs"
            f" {', '.join(sorted(heads))}: run `druginfo migrate` first",
            EXIT_DATABASE,
        )
    fail(f"the database at {where} is not migrated: run `druginfo migrate` first", EXIT_DATABASE)


class BundleFileInvalid(ValueError):
    """The file is no bundle at all: not UTF-8, not JSON, or its top level is not an object."""


_JSON_TYPE_NAMES = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def read_bundle_file(path: Path) -> dict[str, Any]:
    """The JSON object in the file; BundleFileInvalid names the file and what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise BundleFileInvalid(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise BundleFileInvalid(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    if not isinstance(data, dict):
        kind = _JSON_TYPE_NAMES.get(type(data), "a number")
        raise BundleFileInvalid(f"{path}: the top level must be a JSON object (a bundle), not {kind}")
    return data


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


# Any constant shared by every instance: the PostgreSQL advisory lock start-up work takes.
STARTUP_LOCK_KEY = 0x6472_7567  # "drug"


@contextmanager
def startup_lock(settings: Settings) -> Iterator[None]:
    """Serialize migrate and seed between instances starting at once on one PostgreSQL database.

    A session-level advisory lock held on its own connection while the work runs on others; the
    second instance waits, then finds the schema migrated and the content there. SQLite needs
    none: its writers already queue on the database lock.
    """
    if settings.is_sqlite:
        yield
        return
    engine = make_null_pool_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY})
    finally:
        engine.dispose()


def migrate_database(settings: Settings, revision: str = "head") -> None:
    Database(settings).dispose()  # creates the SQLite file's folder
    with startup_lock(settings):
        command.upgrade(alembic_config(settings.database_url), revision)
    if revision == "head":
        # Drugs published before the search index existed get their entries now.
        reindex_search(settings, only_missing=True)


def reindex_search(settings: Settings, *, only_missing: bool = False) -> int:
    """Rebuild the search index from the live revisions; returns how many drugs were indexed."""
    from app.publishing import service as publishing
    from app.search import service as search_service

    db = Database(settings)
    try:
        count = 0
        for session in session_scope(db.write_sessions):
            count = search_service.reindex(session, only_missing=only_missing)
            if count:
                # Search answers are cached per content generation: a rebuilt index is a change.
                publishing.bump_generation(session)
    finally:
        db.dispose()
    return count


def _seed(db: Database, bundle: Bundle, path: Path, *, if_empty: bool) -> ImportReport | None:
    from app.bundle.service import import_bundle
    from app.drugs.models import Drug

    report = None
    # The loop runs once; leaving it normally is what commits (a `return` inside would roll back).
    for session in session_scope(db.write_sessions):
        if not (if_empty and session.scalar(sa.select(sa.func.count()).select_from(Drug))):
            report = import_bundle(session, bundle, author="seed", message=f"Seeded from {path.name}")
    return report


def seed_database(settings: Settings, path: Path, *, if_empty: bool = False) -> str:
    """Import the seed bundle through the import path; returns a one-line report."""
    from app.bundle.service import parse_bundle

    bundle = parse_bundle(read_bundle_file(path))
    db = Database(settings)
    try:
        with startup_lock(settings) if if_empty else nullcontext():
            report = _seed(db, bundle, path, if_empty=if_empty)
    finally:
        db.dispose()
    if report is None:
        return "database already has content; seed skipped"
    if not report.changed:
        return "seed: nothing to change"
    parts = [
        f"{verb} {kind}: {', '.join(slugs)}"
        for verb, by_kind in (("created", report.created), ("updated", report.updated))
        for kind, slugs in by_kind.items()
        if slugs
    ]
    if report.published:
        parts.append(f"published: {', '.join(report.published)}")
    return "seed: " + "; ".join(parts)


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the Alembic migrations (the only way the schema is made); upgrades only."""
    settings = get_settings()
    migrate_database(settings, revision)
    current = schema_revisions(settings)
    if revision != "head":
        config = alembic_config(settings.database_url)
        target = ScriptDirectory.from_config(config).get_revision(revision)
        if target is not None and current != {target.revision}:
            # Alembic's upgrade to an older revision does nothing: say so instead of "migrated".
            typer.echo(
                f"the database is at {', '.join(sorted(current))}, past {target.revision}: "
                f"`druginfo migrate` only upgrades (to go back: `alembic downgrade {target.revision}`)",
                err=True,
            )
            raise typer.Exit(1)
    at = ", ".join(sorted(current))
    typer.echo(f"migrated to head ({at})" if revision == "head" else f"migrated to {at}")


def schema_revisions(settings: Settings) -> set[str]:
    """The Alembic revisions the database is at (none if it was never migrated)."""
    # The app's engine, not a bare one: it gives up on an unreachable server after db_connect_timeout.
    db = Database(settings)
    try:
        with db.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        db.dispose()


@cli.command()
def seed(
    file: Annotated[Path, typer.Option(help="Bundle to import.", exists=True, dir_okay=False)] = DEFAULT_SEED,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only seed a database with no drugs.")] = False,
) -> None:
    """Import the curated seed bundle (idempotent: a second run changes nothing)."""
    settings = get_settings()
    require_migrated(settings)
    try:
        typer.echo(seed_database(settings, file, if_empty=if_empty))
    except BundleFileInvalid as exc:
        fail(str(exc))
    except AppError as exc:
        refuse("seed", exc)


@cli.command()
def reindex() -> None:
    """Rebuild the search index of every published drug (e.g. after changing the default locale)."""
    settings = get_settings()
    require_migrated(settings)
    typer.echo(f"reindexed {reindex_search(settings)} published drug(s)")


def prepare_metrics_directory(workers: int) -> Path | None:
    """Workers share one metrics directory, named before they import prometheus-client, empty at start.

    Returns the directory if it was made here (a temporary one, to remove when serving ends).
    """
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not directory:
        if workers <= 1:
            return None
        made = Path(tempfile.mkdtemp(prefix="druginfo-metrics-"))
        os.environ[MULTIPROC_DIR_VARIABLE] = str(made)
        return made
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # Values left by a previous run would be added to this run's; only prometheus-client's own files go.
    for kind in ("counter", "gauge", "histogram", "summary"):
        for stale in path.glob(f"{kind}_*.db"):
            stale.unlink()
    return None


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT or 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the API with uvicorn (uvloop and httptools), JSON logs and bounded client timeouts."""
    import uvicorn

    from app.core.logging import log_config
    from app.core.server import uvicorn_options

    settings = get_settings()
    workers = workers or settings.workers
    logging_config = log_config(settings.log_level)
    if not settings.access_log:
        logging_config["loggers"]["druginfo.access"] = {"level": "WARNING"}
    made = prepare_metrics_directory(workers)
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level,
            log_config=logging_config,
            **uvicorn_options(settings),
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


@contextmanager
def unit_of_work(db: Database) -> Iterator[Session]:
    """One write transaction: committed at the end of the block, rolled back on any error."""
    yield from session_scope(db.write_sessions)


keys_cli = typer.Typer(help="API keys for the management API.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what holds the key.")],
    role: Annotated[str, typer.Option(help="viewer, editor, publisher or admin.")],
) -> None:
    """Create a key; the token is printed once (stdout, alone, so `TOKEN=$(...)` works) and never stored."""
    from app.auth import service as auth_service
    from app.auth.schemas import KeyCreate

    try:
        data = KeyCreate.model_validate({"name": name, "role": role})
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"error: --{error['loc'][0]}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    require_migrated(settings)
    db = Database(settings)
    try:
        with unit_of_work(db) as session:
            new = auth_service.create_key(session, name=data.name, role=data.role, created_by="cli")
            prefix, scopes = new.key.prefix, ", ".join(new.key.scopes)
            audit.record(
                session,
                action="key.create_key",
                entity="key",
                entity_id=prefix,
                changes={"name": data.name, "role": data.role, "via": "cli"},
            )
    finally:
        db.dispose()
    typer.echo(f"created key {prefix} ({data.role}: {scopes}); the token below is shown only once", err=True)
    typer.echo(new.token)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, role, state); tokens cannot be shown."""
    from app.auth import service as auth_service

    settings = get_settings()
    require_migrated(settings)
    db = Database(settings)
    try:
        with db.read_sessions() as session:
            keys = auth_service.list_keys(session)
    finally:
        db.dispose()
    typer.echo(f"{'PREFIX':<10}{'ROLE':<11}{'STATE':<9}{'CREATED':<22}{'LAST USED':<22}NAME")
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        last = key.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if key.last_used_at else "never"
        created = key.created_at.strftime("%Y-%m-%d %H:%M UTC")
        typer.echo(f"{key.prefix:<10}{key.role:<11}{state:<9}{created:<22}{last:<22}{key.name}")


@keys_cli.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix (see `keys list`).")]) -> None:
    """Revoke a key at once."""
    from app.auth import service as auth_service

    settings = get_settings()
    require_migrated(settings)
    db = Database(settings)
    try:
        with unit_of_work(db) as session:
            key = auth_service.find_key(session, prefix)
            if key is None:
                fail(f"no key with prefix {prefix!r}")
            auth_service.revoke_key(session, key)
            audit.record(
                session, action="key.revoke_key", entity="key", entity_id=prefix, changes={"via": "cli"}
            )
    finally:
        db.dispose()
    typer.echo(f"revoked {prefix}")


def _progress() -> Any:
    """A progress bar on stderr (stdout may carry the bundle); silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Bundle to import.", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; change nothing.")] = False,
) -> None:
    """Import a bundle: all of it is validated first, then applied in one transaction (or nothing)."""
    from app.bundle.service import import_bundle, parse_bundle
    from app.search import service as search_service

    try:
        data = read_bundle_file(file)
    except BundleFileInvalid as exc:
        fail(str(exc))
    data.pop("revisions", None)  # an export's history: not imported
    settings = get_settings()
    require_migrated(settings)
    db = Database(settings)
    try:
        bundle = parse_bundle(data)
        with _progress() as progress:
            task = progress.add_task("importing drugs", total=len(bundle.drugs))
            for session in session_scope(db.write_sessions):
                session.info["cli_author"] = "cli"
                report = import_bundle(
                    session,
                    bundle,
                    author="cli",
                    message=f"Imported from {file.name}",
                    dry_run=dry_run,
                    on_drug=lambda _slug: progress.advance(task),
                )
                if not dry_run:
                    search_service.optimize_after(session, len(bundle.drugs))
                    audit.record(
                        session,
                        action="bundle.import",
                        entity="bundle",
                        entity_id=file.name,
                        changes=dataclasses.asdict(report),
                    )
    except AppError as exc:
        refuse("import", exc)
    finally:
        db.dispose()
    summary = {k: v for k, v in dataclasses.asdict(report).items() if v}
    typer.echo(("dry run: " if dry_run else "imported: ") + json.dumps(summary, sort_keys=True))


@cli.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    include_drafts: Annotated[bool, typer.Option("--include-drafts", help="Working drafts instead.")] = False,
    include_revisions: Annotated[bool, typer.Option("--include-revisions", help="Add the history.")] = False,
) -> None:
    """Export the content as a bundle (what the public sees, unless --include-drafts)."""
    from app.bundle.export import drug_count, iter_bundle

    settings = get_settings()
    require_migrated(settings)
    db = Database(settings)
    try:
        with db.read_sessions() as session:
            total = drug_count(session, include_drafts=include_drafts)
            out = output.open("w", encoding="utf-8") if output else sys.stdout
            try:
                with _progress() as progress:
                    task = progress.add_task("exporting drugs", total=total)
                    for chunk in iter_bundle(
                        session,
                        include_drafts=include_drafts,
                        include_revisions=include_revisions,
                        on_drug=lambda _slug: progress.advance(task),
                    ):
                        out.write(chunk)
            finally:
                if output:
                    out.close()
    finally:
        db.dispose()
    if output:
        typer.echo(f"exported {total} drug(s) to {output}", err=True)


def main() -> None:
    """The `druginfo` entry point: database trouble the app classifies is one line and exit 69."""
    try:
        cli()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise  # a bug: Typer shows the traceback
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "settings"
            variable = field if field.isupper() else setting_name(field)  # an alias is the variable
            typer.echo(f"error: {variable}: {error['msg'].removeprefix('Value error, ')}", err=True)
        sys.exit(EXIT_CONFIG)
    except sa.exc.SQLAlchemyError as exc:
        kind = classify_database_error(exc)
        if kind is None:
            raise  # a bug: Typer shows the traceback
        typer.echo(f"error: {database_error_message(exc, kind, get_settings().database_url)}", err=True)
        sys.exit(EXIT_DATABASE)


if __name__ == "__main__":
    main()
