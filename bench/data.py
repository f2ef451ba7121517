"""The benchmark's database: N synthetic drugs, built once per schema and generator, then copied per run.

The first 1,000 drugs (or all, if fewer) go through the real import path (`import_bundle`): drafts,
revisions, publish and whatever else publishing maintains. Beyond that (the 10,000-drug run),
importing would take the ORM ~40 ms a drug, so further drugs are cloned at the table level from
drug 0001: a drug row, a revision whose document is drug 0001's renamed, and the public projection
(published_drug and its conditions) and its full-text entries, written by the search index's own
`index_drug`. Their public documents have exactly the imported shape and they are searchable like
the imported ones; they have no draft parts (only the admin workload edits drafts, and it edits
imported drugs).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app import models  # noqa: F401
from app.bundle.service import import_bundle, parse_bundle
from app.cli import PROJECT_ROOT, migrate_database
from app.core.config import Settings
from app.core.db import Database, session_scope, utcnow
from app.drugs.models import Drug
from app.publishing.models import PublishedDrug, PublishedDrugCondition
from app.publishing.service import bump_generation
from app.revisions.models import DrugRevision
from app.search import service as search_service
from bench.synthetic import SEED, bench_names, synthetic_bundle

IMPORTED = 1000
BATCH = 100
CACHE = Path(__file__).resolve().parent / ".cache"


def _fingerprint(count: int) -> str:
    digest = hashlib.sha256(str(count).encode())
    sources = [
        *sorted((PROJECT_ROOT / "migrations" / "versions").glob("*.py")),
        SEED,
        Path(__file__),
        Path(__file__).with_name("synthetic.py"),
        PROJECT_ROOT / "app" / "search" / "documents.py",
        PROJECT_ROOT / "app" / "bundle" / "service.py",
        PROJECT_ROOT / "app" / "publishing" / "service.py",
    ]
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _import(settings: Settings, count: int, log: Any) -> None:
    db = Database(settings)
    try:
        for start in range(1, count + 1, BATCH):
            names = bench_names(min(BATCH, count - start + 1), start=start)
            bundle = parse_bundle(synthetic_bundle(names))
            for session in session_scope(db.write_sessions):
                import_bundle(session, bundle, author="bench", message="Synthetic benchmark data")
            log(f"  imported {start + len(names) - 1}/{count} drugs")
        for session in session_scope(db.write_sessions):
            search_service.optimize(session)  # as `druginfo import` does after an import
    finally:
        db.dispose()


def _row(table: sa.Table, row: Any, **changes: Any) -> dict[str, Any]:
    values = dict(row._mapping)
    values.update(changes)
    return {k: v for k, v in values.items() if k in table.c}


def _clone(settings: Settings, start: int, count: int, log: Any) -> None:
    """Drugs start..start+count-1 as table-level copies of synthetic-drug-0001's public rows."""
    db = Database(settings)
    drug_t, revision_t = Drug.__table__, DrugRevision.__table__
    published_t, condition_t = PublishedDrug.__table__, PublishedDrugCondition.__table__
    try:
        for session in session_scope(db.write_sessions):
            conn = session.connection()
            template = conn.execute(sa.select(drug_t).where(drug_t.c.slug == "synthetic-drug-0001")).one()
            published = conn.execute(sa.select(published_t).where(published_t.c.drug_id == template.id)).one()
            revision = conn.execute(
                sa.select(revision_t).where(revision_t.c.id == published.revision_id)
            ).one()
            conditions = conn.execute(
                sa.select(condition_t).where(condition_t.c.drug_id == template.id)
            ).all()
            document_text = json.dumps(revision.document)
            now = utcnow()
            for batch_start in range(start, start + count, 500):
                names = bench_names(min(500, start + count - batch_start), start=batch_start)
                for slug, name in names:
                    drug_id = conn.execute(
                        sa.insert(drug_t).values(
                            _row(drug_t, template, slug=slug, name=name, created_at=now, updated_at=now)
                            | {"id": None}
                        )
                    ).inserted_primary_key[0]
                    text = document_text.replace("synthetic-drug-0001", slug).replace(
                        "Synthetic Drug 0001", name
                    )
                    document = json.loads(text)
                    revision_id = conn.execute(
                        sa.insert(revision_t).values(
                            _row(revision_t, revision, drug_id=drug_id, document=document) | {"id": None}
                        )
                    ).inserted_primary_key[0]
                    conn.execute(
                        sa.insert(published_t).values(
                            _row(
                                published_t,
                                published,
                                drug_id=drug_id,
                                revision_id=revision_id,
                                slug=slug,
                                name=name,
                                name_key=name.casefold(),
                                published_at=now,
                            )
                        )
                    )
                    search_service.index_drug(session, drug_id, document)
                    if conditions:
                        conn.execute(
                            sa.insert(condition_t),
                            [_row(condition_t, c, drug_id=drug_id) for c in conditions],
                        )
                log(f"  cloned {batch_start + len(names) - 1}/{start + count - 1} drugs")
            search_service.optimize(session)
            bump_generation(session)
    finally:
        db.dispose()


def _cached(count: int, log: Any) -> Path:
    """The cached database file with `count` drugs, built if missing (a larger one starts from 1,000)."""
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"bench-{count}-{_fingerprint(count)}.db"
    if cached.exists():
        return cached
    log(f"building the {count}-drug database (once; cached in {CACHE.relative_to(PROJECT_ROOT)})")
    for stale in CACHE.glob(f"bench-{count}-*.db*"):
        stale.unlink()
    building = cached.with_suffix(".building")
    building.unlink(missing_ok=True)
    settings = Settings(database_url=f"sqlite:///{building}")
    if count > IMPORTED:
        shutil.copyfile(_cached(IMPORTED, log), building)
        _clone(settings, IMPORTED + 1, count - IMPORTED, log)
    else:
        migrate_database(settings)
        _import(settings, count, log)
    engine = sa.create_engine(f"sqlite:///{building}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    building.rename(cached)
    return cached


def build(count: int, workdir: Path, log: Any = print) -> Settings:
    """A private SQLite copy of the benchmark database with `count` synthetic drugs."""
    target = workdir / "bench.db"
    shutil.copyfile(_cached(count, log), target)
    return Settings(database_url=f"sqlite:///{target}")
