#!/bin/sh
# Container start: migrate, seed an empty database, then serve (several workers).
set -eu
python -m app.cli migrate
python -m app.cli seed --if-empty
exec python -m app.cli serve --host "${DRUGINFO_HOST:-0.0.0.0}" --port "${PORT:-8000}" --workers "${DRUGINFO_WORKERS:-2}"
