# druginfo: slim, non-root, migrations on start.
# Build: docker build -t druginfo .
# The base is pinned by version tag. Pin it by digest as well where the registry is reachable
# (`docker buildx imagetools inspect python:3.11.11-slim-bookworm`, then `FROM python:3.11.11-slim-bookworm@sha256:…`
# in both stages): a tag can be re-pushed, a digest cannot.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.lock /tmp/requirements.lock
RUN /venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM python:3.11.11-slim-bookworm
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/srv/druginfo \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////var/lib/druginfo/druginfo.db \
    PORT=8000
RUN useradd --system --uid 10001 --home-dir /srv/druginfo druginfo \
    && mkdir -p /var/lib/druginfo && chown druginfo /var/lib/druginfo
COPY --from=build /venv /venv
WORKDIR /srv/druginfo
COPY alembic.ini pyproject.toml ./
COPY app ./app
COPY migrations ./migrations
COPY seed_data ./seed_data
COPY scripts/docker-entrypoint.sh /usr/local/bin/druginfo-entrypoint
COPY scripts/druginfo /usr/local/bin/druginfo
USER druginfo
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"
ENTRYPOINT ["druginfo-entrypoint"]
