"""A stream of writes through the import path, each acknowledged: `python -m tests.ops.import_writer URL`.

Each write is one transaction (the same unit of work as an admin write: draft tables, a revision,
the published projection and the content generation): it creates `testdrug-w<i>` and rewrites
`testdrug-base` to version i. "ack i" is printed only after the commit returned.
"""

from __future__ import annotations

import sys
from typing import Any

from app.bundle.service import import_bundle, parse_bundle
from app.core.config import Settings
from app.core.db import Database, session_scope
from tests.factories import synthetic_drug


def bundle(i: int) -> dict[str, Any]:
    faqs = [{"question": f"Synthetic question {n} of write {i}?", "answer": f"Answer {n}."} for n in range(3)]
    return {
        "drugs": [
            synthetic_drug("testdrug-base", "Testdrug Base", summary=f"Version {i}", faqs=faqs),
            synthetic_drug(
                f"testdrug-w{i:05d}", f"Testdrug W{i:05d}", summary=f"Written by write {i}", faqs=faqs
            ),
        ]
    }


def main(url: str, start: int, count: int) -> None:
    db = Database(Settings(database_url=url))
    for i in range(start, start + count):
        for session in session_scope(db.write_sessions):
            import_bundle(session, parse_bundle(bundle(i)), author="writer", message=f"write {i}")
        print(f"ack {i}", flush=True)
    db.dispose()


if __name__ == "__main__":
    main(
        sys.argv[1],
        int(sys.argv[2]) if len(sys.argv) > 2 else 0,
        int(sys.argv[3]) if len(sys.argv) > 3 else 10_000,
    )
