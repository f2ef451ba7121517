"""The baseline: a bare FastAPI app answering each workload's exact bytes from memory.

`python -m bench.baseline_app ANSWERS.json` serves, for every workload, one route `GET /<name>`
returning the status, body and headers that druginfo itself answered for that workload (captured by
the bench), with the same uvicorn settings as `druginfo serve`. `PATCH /naive/faqs/{id}` is the
naive single-row ORM update that the admin edit is compared with.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response

from app import models  # noqa: F401  (every mapper registered)
from app.core.config import get_settings
from app.core.db import Database
from app.drugs.models import Faq


def create_baseline(answers: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    for name, answer in answers.items():
        body = base64.b64decode(answer["body"])
        status = int(answer["status"])
        headers = dict(answer["headers"])

        def make(body: bytes = body, status: int = status, headers: dict[str, str] = headers) -> Any:
            async def endpoint() -> Response:
                return Response(body, status_code=status, headers=headers)

            return endpoint

        app.get(f"/{name}")(make())

    db = Database(get_settings())

    @app.patch("/naive/faqs/{faq_id}")
    def naive_update(faq_id: int, edit: dict[str, str]) -> dict[str, Any]:
        with db.write_session() as session:
            faq = session.get(Faq, faq_id)
            if faq is None:
                return {"error": "not found"}
            faq.answer = edit["answer"]
            session.commit()
            return {"id": faq.id, "version": faq.version}

    return app


def main() -> None:
    import uvicorn

    from app.core.server import uvicorn_options

    answers = json.loads(Path(sys.argv[1]).read_text())
    settings = get_settings()
    # The same server settings as `druginfo serve` (one worker), on the port the bench chose.
    uvicorn.run(create_baseline(answers), host=settings.host, port=settings.port, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
