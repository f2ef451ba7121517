"""`make bench`: druginfo's read (and edit) throughput next to a bare FastAPI baseline, in one run.

    python -m bench.run [--drugs 1000] [--drugs 10000] [--duration 3] [--connections 32]

For each size: a private SQLite database of synthetic drugs (bench/data.py), the real server
(`druginfo serve`: uvicorn, uvloop, httptools, one worker, access log off) pinned to core 0 with
taskset, and the baseline (bench/baseline_app.py: a bare FastAPI endpoint per workload returning the
exact bytes druginfo answered, same uvicorn settings) pinned to the same core. The load comes from
`wrk` on core 1 (installed with apt-get when missing and possible), or from bench/loadgen.py when
wrk is not available. Prints one table per size, then how the costs grew.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import data, loadgen

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
SEARCH_QUERIES = ["fatigue", "blood clots", "dexamethasone", "constipation", "synthetic drug 0042", "myeloma"]
BASELINE_HEADERS = (
    "content-type",
    "content-encoding",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "content-language",
)
# Terms a patient types, combined with a drug's name below for the uncached search workload.
SEARCH_TERMS = ["fatigue", "constipation", "blood clots", "neutropenia", "dexamethasone", "rash", "infection"]
SEARCH_POPULAR = "search (popular queries)"
DISTINCT_QUERIES = 15_000
SEARCH_DISTINCT = "search (distinct queries)"
ADMIN = "admin FAQ edit (If-Match)"
TARGETS = {
    "full document": ("ratio", 0.8),
    "304 revalidation": ("ratio", 0.9),
    "list page of 20": ("ratio", 0.8),
    "FAQs of one drug": ("ratio", 0.8),
    SEARCH_POPULAR: ("p99_ms", 50.0),
    SEARCH_DISTINCT: ("p99_ms", 50.0),
    ADMIN: ("wall_ratio", 0.5),
}
# Workloads whose requests must reach the application, not its response cache: never warmed, and
# each round of the load starts at another place in a list too long for the cache to hold it all.
UNCACHED = frozenset({SEARCH_DISTINCT})


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Measure:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    tool: str = "wrk"
    requests: int = 0
    cpu_seconds: float = 0.0  # the server process's CPU time (user + system) during the run

    @property
    def cpu_us(self) -> float | None:
        """Server CPU per request: what neighbours on a shared machine cannot inflate much."""
        return self.cpu_seconds / self.requests * 1e6 if self.requests and self.cpu_seconds else None


@dataclass
class Row:
    workload: str
    ours: Measure | None = None
    baseline: Measure | None = None
    note: str = ""

    @property
    def wall_ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or not self.baseline.rate:
            return None
        return self.ours.rate / self.baseline.rate

    @property
    def ratio(self) -> float | None:
        """Throughput ratio per unit of server CPU (baseline CPU/request over ours); wall ratio if unknown."""
        if self.ours is None or self.baseline is None:
            return None
        if self.ours.cpu_us and self.baseline.cpu_us:
            return self.baseline.cpu_us / self.ours.cpu_us
        return self.wall_ratio

    def verdict(self) -> str:
        kind, goal = TARGETS.get(self.workload, ("", 0.0))
        if self.ours is None:
            return "n/a"
        if self.ours.errors:
            return "invalid (errors)"
        if kind == "ratio":
            ratio = self.ratio
            return "n/a" if ratio is None else f"≥{goal:g}× {'met' if ratio >= goal else 'NOT met'}"
        if kind == "wall_ratio":
            ratio = self.wall_ratio
            return "n/a" if ratio is None else f"≥{goal:g}× {'met' if ratio >= goal else 'NOT met'} (wall)"
        if kind == "p99_ms":
            return f"p99<{goal:g}ms {'met' if self.ours.p99_ms < goal else 'NOT met'}"
        return ""


@dataclass
class SizeResult:
    drugs: int
    rows: list[Row] = field(default_factory=list)
    rss_mb: float = 0.0
    rss_note: str = ""


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pinned(core: int, command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    if taskset and (os.cpu_count() or 1) >= 2:
        return [taskset, "-c", str(core), *command]
    return command


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, workdir: Path) -> None:
        self.name, self.port = name, port
        self.url = f"http://{HOST}:{port}"
        self.stderr_path = workdir / f"{name}.stderr"
        self.process = subprocess.Popen(
            pinned(0, command),
            env={**os.environ, **env, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=self.stderr_path.open("wb"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.stderr_path.read_text()}")
            try:
                if httpx.get(self.url + "/docs-not-there", timeout=1).status_code:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError(f"{name} did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- load ----------------------------------------------------------------------------------------


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found: installing it from Debian (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False)
        found = shutil.which("wrk")
    if not found:
        log("wrk not available (apt-get install wrk): using bench/loadgen.py, slower; numbers are floors")
    return found


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk_script(calls: list[loadgen.Call], path: Path) -> None:
    entries = []
    for call in calls:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in call.headers.items())
        entries.append(f"  {{{_lua_string(call.path)}, {{{headers}}}}},")
    path.write_text(
        "local calls = {\n" + "\n".join(entries) + "\n}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  local c = calls[(i % #calls) + 1]\n"
        '  return wrk.format("GET", c[1], c[2])\n'
        "end\n"
    )


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+(?:e[+-]?\d+)?)(us|ms|s|m|h)$", text.strip())
    if match is None:
        log(f"unreadable latency from wrk: {text!r}")
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    wrk: str, url: str, calls: list[loadgen.Call], *, connections: int, duration: float, workdir: Path
) -> Measure:
    script = workdir / "workload.lua"
    _wrk_script(calls, script)
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script), url]
    out = subprocess.run(pinned(1, command), capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: the thread stats above end in a "+/- Stdev" percentage such as "88.99%".
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Measure(rate=rate, p50_ms=p50, p99_ms=p99, errors=errors, tool="wrk", requests=requests)


def run_python(port: int, next_call: loadgen.NextCall, *, connections: int, duration: float) -> Measure:
    result = loadgen.run_sync(HOST, port, connections=connections, duration=duration, next_call=next_call)
    bad = sum(n for status, n in result.statuses.items() if status >= 400) + result.errors
    return Measure(
        rate=result.rate,
        p50_ms=result.percentile(50) * 1000,
        p99_ms=result.percentile(99) * 1000,
        errors=bad,
        tool="loadgen",
        requests=result.requests,
    )


def best(kept: Measure | None, new: Measure) -> Measure:
    return new if kept is None or new.rate > kept.rate else kept


# -- workloads -----------------------------------------------------------------------------------


def capture(server: Server, call: loadgen.Call) -> dict[str, Any]:
    """druginfo's exact answer to `call`, for the baseline to repeat."""
    response = httpx.get(server.url + call.path, headers=call.headers)
    with httpx.stream("GET", server.url + call.path, headers=call.headers) as raw:
        body = b"".join(raw.iter_raw())
    return {
        "status": response.status_code,
        "body": base64.b64encode(body).decode(),
        "headers": {k: v for k, v in raw.headers.items() if k in BASELINE_HEADERS},
    }


def read_workloads(server: Server, drugs: int, hot: int) -> tuple[dict[str, list[loadgen.Call]], list[str]]:
    notes = []
    slugs = [f"synthetic-drug-{i:04d}" for i in range(1, min(hot, drugs) + 1)]
    documents = [loadgen.Call("GET", f"/api/v1/drugs/{slug}") for slug in slugs]
    etags = [httpx.get(server.url + call.path).headers["etag"] for call in documents]
    revalidations = [
        loadgen.Call("GET", call.path, {"If-None-Match": etag})
        for call, etag in zip(documents, etags, strict=True)
    ]
    pages, path = [], "/api/v1/drugs?limit=20"
    for _ in range(5):
        pages.append(loadgen.Call("GET", path))
        cursor = httpx.get(server.url + path).json()["next_cursor"]
        if not cursor:
            break
        path = f"/api/v1/drugs?limit=20&cursor={cursor}"
    faqs = [loadgen.Call("GET", f"/api/v1/drugs/{slug}/faqs") for slug in slugs]
    workloads = {
        "full document": documents,
        "304 revalidation": revalidations,
        "list page of 20": pages,
        "FAQs of one drug": faqs,
    }
    probe = httpx.get(server.url + "/api/v1/search", params={"q": SEARCH_QUERIES[0]})
    if probe.status_code == 404:
        notes.append("search: skipped: GET /api/v1/search is not present (404)")
    elif probe.status_code != 200:
        notes.append(f"search: skipped: GET /api/v1/search answered {probe.status_code}")
    else:
        workloads[SEARCH_POPULAR] = [
            loadgen.Call("GET", "/api/v1/search?" + str(httpx.QueryParams({"q": q}))) for q in SEARCH_QUERIES
        ]
        # A drug's name and a symptom, for every drug: thousands of different queries, so each
        # request runs the full-text engine (ranking, count, snippets), as a type-ahead's long tail
        # does. A synthetic drug's distinctive name is its number: every synthetic name shares the
        # words "Synthetic Drug", which are in every entry of the index, as no real drug name is.
        distinct = [f"{n:04d} {term}".strip() for term in ["", *SEARCH_TERMS] for n in range(1, drugs + 1)]
        random.Random(7).shuffle(distinct)
        # wrk's Lua script holds the list as constants (at most 65,536): keep a sample, still far
        # more than the response cache holds and than a run gets through.
        distinct = distinct[:DISTINCT_QUERIES]
        workloads[SEARCH_DISTINCT] = [
            loadgen.Call("GET", "/api/v1/search?" + str(httpx.QueryParams({"q": q}))) for q in distinct
        ]
    return workloads, notes


def warm(server: Server, calls: list[loadgen.Call]) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for call in calls:
            client.get(call.path, headers=call.headers)


def admin_edit_calls(server: Server, settings_env: dict[str, str]) -> tuple[loadgen.NextCall | None, str]:
    """The admin FAQ edit workload (If-Match), if the management API exists on this branch."""
    probe = httpx.get(server.url + "/api/v1/admin/drugs/synthetic-drug-0001/faqs")
    if probe.status_code == 404:
        return None, "skipped: admin API not present"
    made = subprocess.run(
        [str(BIN / "druginfo"), "keys", "create", "--name", "bench", "--role", "editor"],
        env={**os.environ, **settings_env},
        capture_output=True,
        text=True,
        check=False,
    )
    tokens = re.findall(r"[A-Za-z0-9_\-.]{32,}", made.stdout)
    if made.returncode != 0 or not tokens:
        return None, f"skipped: could not create an API key ({made.stderr.strip()[:120]})"
    auth = {"Authorization": f"Bearer {tokens[-1]}", "Content-Type": "application/json"}
    targets = []
    for i in range(1, 33):
        slug = f"synthetic-drug-{i:04d}"
        listing = httpx.get(f"{server.url}/api/v1/admin/drugs/{slug}/faqs", headers=auth)
        if listing.status_code != 200:
            return None, f"skipped: admin FAQ list answered {listing.status_code}"
        payload = listing.json()
        items = payload["items"] if isinstance(payload, dict) else payload
        targets.append(f"/api/v1/admin/drugs/{slug}/faqs/{items[0]['id']}")
    counter = [0]

    def next_call(index: int, last: loadgen.Answer | None) -> loadgen.Call:
        path = targets[index % len(targets)]
        if last is None or "etag" not in last.headers or last.status >= 400:
            return loadgen.Call("GET", path, auth)
        counter[0] += 1
        body = json.dumps({"answer": f"Synthetic benchmark edit {counter[0]}."}).encode()
        return loadgen.Call("PATCH", path, {**auth, "If-Match": last.headers["etag"]}, body)

    return next_call, ""


def naive_edit_calls(settings: Any) -> loadgen.NextCall:
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as conn:
        ids = [
            row[0]
            for row in conn.execute(
                sa.text(
                    "SELECT min(faq.id) FROM faq JOIN drug ON drug.id = faq.drug_id "
                    "WHERE drug.slug LIKE 'synthetic-drug-00%' GROUP BY drug.id ORDER BY drug.id LIMIT 32"
                )
            )
        ]
    engine.dispose()
    counter = [0]

    def next_call(index: int, _last: loadgen.Answer | None) -> loadgen.Call:
        counter[0] += 1
        body = json.dumps({"answer": f"Synthetic naive edit {counter[0]}."}).encode()
        return loadgen.Call(
            "PATCH", f"/naive/faqs/{ids[index % len(ids)]}", {"Content-Type": "application/json"}, body
        )

    return next_call


def admin_row(
    ours: Server, baseline: Server, env: dict[str, str], settings: Any, servers: list[Server], args: Any
) -> Row:
    """The admin FAQ edit next to a naive single-row ORM update (both driven by loadgen)."""
    row = Row(ADMIN)
    try:
        admin, row.note = admin_edit_calls(ours, env)
        if admin is None:
            return row
        naive = naive_edit_calls(settings)
        # Alternating, best of `rounds` each, like the read workloads.
        for _ in range(args.rounds):
            for target, next_call in ((ours, admin), (baseline, naive)):
                cpu_before = target.cpu_seconds()
                measure = run_python(
                    target.port, next_call, connections=args.connections, duration=args.duration
                )
                measure.cpu_seconds = target.cpu_seconds() - cpu_before
                if target is ours:
                    row.ours = best(row.ours, measure)
                else:
                    row.baseline = best(row.baseline, measure)
    except Exception as exc:  # never let one workload break the whole bench
        row.note = f"skipped: admin workload failed ({type(exc).__name__}: {exc})"[:200]
        return row
    locked = sum(s.stderr().count("database is locked") for s in servers)
    row.note = f"{locked} 'database is locked' in server logs; baseline: naive single-row ORM update"
    return row


def selected(workload: str, args: argparse.Namespace) -> bool:
    """Whether `--only` (if given) names this workload (a case-insensitive part of its name)."""
    return not args.only or any(part.lower() in workload.lower() for part in args.only)


def run_size(drugs: int, args: argparse.Namespace, wrk: str | None) -> SizeResult:
    result = SizeResult(drugs=drugs)
    workdir = Path(tempfile.mkdtemp(prefix=f"druginfo-bench-{drugs}-"))
    servers: list[Server] = []
    try:
        settings = data.build(drugs, workdir, log)
        env = {
            "DATABASE_URL": settings.database_url,
            "DRUGINFO_ACCESS_LOG": "false",
            "DRUGINFO_LOG_LEVEL": "warning",
            "DRUGINFO_WORKERS": "1",
            "DRUGINFO_HOST": HOST,
            # One client hammering one server: the limits would answer 429 and measure themselves.
            "DRUGINFO_RATE_LIMIT_PER_MINUTE": "0",
            "DRUGINFO_ADMIN_RATE_LIMIT_PER_MINUTE": "0",
        }
        ours = Server("druginfo", [str(BIN / "druginfo"), "serve"], env, free_port(), workdir)
        servers.append(ours)
        log(f"[{drugs}] druginfo serve up (pid {ours.process.pid}); warming")
        all_documents = [
            loadgen.Call("GET", f"/api/v1/drugs/synthetic-drug-{i:04d}") for i in range(1, drugs + 1)
        ]
        if drugs <= 1000 and selected("full document", args):
            started = time.monotonic()
            warm(ours, all_documents)
            result.rss_note = f"all {drugs} documents cached (warmed in {time.monotonic() - started:.0f} s)"
        workloads, notes = read_workloads(ours, drugs, args.hot)
        workloads = {name: calls for name, calls in workloads.items() if selected(name, args)}
        for name, calls in workloads.items():
            warm(ours, calls[:1] if name in UNCACHED else calls)
        if drugs > 1000:
            result.rss_note = f"the {min(args.hot, drugs)} drugs the workloads read cached"
        result.rss_mb = ours.rss_mb()

        answers = {re.sub(r"\W+", "-", name): capture(ours, calls[0]) for name, calls in workloads.items()}
        answers_path = workdir / "answers.json"
        answers_path.write_text(json.dumps(answers))
        baseline = Server(
            "baseline",
            [sys.executable, "-m", "bench.baseline_app", str(answers_path)],
            env,
            free_port(),
            workdir,
        )
        servers.append(baseline)

        for name, calls in workloads.items():
            row = Row(name)
            base_calls = [loadgen.Call("GET", "/" + re.sub(r"\W+", "-", name))]
            # Alternate druginfo and the baseline, best of `rounds` each: neighbours on a shared
            # machine slow whichever run they overlap, and the best run is the least disturbed.
            for round_ in range(args.rounds):
                if name in UNCACHED:
                    # A place in the list no earlier round reached (the list is longer than all
                    # rounds together can get through at the rates seen here).
                    start = round_ * len(calls) // max(args.rounds, 1)
                    calls = calls[start:] + calls[:start]
                for target, which in ((ours, calls), (baseline, base_calls)):
                    cpu_before = target.cpu_seconds()
                    if wrk:
                        measure = run_wrk(
                            wrk,
                            target.url,
                            which,
                            connections=args.connections,
                            duration=args.duration,
                            workdir=workdir,
                        )
                    else:
                        measure = run_python(
                            target.port,
                            loadgen.cycling(which),
                            connections=args.connections,
                            duration=args.duration,
                        )
                    measure.cpu_seconds = target.cpu_seconds() - cpu_before
                    if target is ours:
                        row.ours = best(row.ours, measure)
                    else:
                        row.baseline = best(row.baseline, measure)
            log(f"[{drugs}] {name}: {row.ours.rate:,.0f} req/s vs baseline {row.baseline.rate:,.0f}")  # type: ignore[union-attr]
            result.rows.append(row)
            if name in UNCACHED:
                row.note = "every request a cache miss: the full-text engine each time"
        for note in notes:
            result.rows.append(Row(note.split(":")[0], note=note.split(": ", 1)[1]))

        if selected(ADMIN, args):
            result.rows.append(admin_row(ours, baseline, env, settings, servers, args))
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


# -- report --------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}"


def _fmt(value: float | None, pattern: str) -> str:
    return (
        "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, pattern)
    )


def table(result: SizeResult, args: argparse.Namespace) -> str:
    lines = [
        f"### {result.drugs:,} drugs — {args.connections} connections, "
        f"best of {args.rounds} alternating {args.duration:g} s runs per workload and server",
        "",
        "| workload | req/s | p50 ms | p99 ms | baseline req/s | wall ratio "
        "| CPU µs/req (ours / baseline) | ratio | target | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in result.rows:
        ours, base = row.ours, row.baseline
        note = row.note
        if ours is not None and ours.errors:
            note = f"{note}; {ours.errors} errors".lstrip("; ")
        if ours is not None and ours.tool != "wrk":
            note = f"{note}; measured with loadgen".lstrip("; ")
        cpu = (
            f"{_fmt(ours.cpu_us, '.0f')} / {_fmt(base.cpu_us, '.0f')}"
            if ours is not None and base is not None and ours.cpu_us
            else "—"
        )
        lines.append(
            f"| {row.workload} | {_fmt(ours.rate if ours else None, ',.0f')} "
            f"| {_fmt(ours.p50_ms if ours else None, '.2f')} | {_fmt(ours.p99_ms if ours else None, '.2f')} "
            f"| {_fmt(base.rate if base else None, ',.0f')} | {_fmt(row.wall_ratio, '.2f')} | {cpu} "
            f"| {_fmt(row.ratio, '.2f')} | {row.verdict()} | {note} |"
        )
    lines += [
        "",
        "ratio: baseline CPU per request ÷ ours (throughput per unit of server CPU), which neighbours on a",
        "shared machine disturb far less than wall-clock req/s. The admin row's target is on the wall",
        "ratio (a write also waits for the disk, which CPU time does not show); both are printed.",
        f"Server RSS: {result.rss_mb:.0f} MB" + (f" with {result.rss_note}." if result.rss_note else "."),
    ]
    return "\n".join(lines)


def growth(small: SizeResult, large: SizeResult) -> str:
    by_name = {row.workload: row for row in small.rows}
    lines = [
        f"### Growth: {small.drugs:,} → {large.drugs:,} drugs",
        "",
        "| workload | req/s ratio | p99 ratio | CPU µs/req ratio |",
        "|---|---:|---:|---:|",
    ]
    for row in large.rows:
        before = by_name.get(row.workload)
        if row.ours is None or before is None or before.ours is None:
            continue
        rate = row.ours.rate / before.ours.rate
        p99 = row.ours.p99_ms / before.ours.p99_ms
        cpu = row.ours.cpu_us / before.ours.cpu_us if row.ours.cpu_us and before.ours.cpu_us else None
        lines.append(f"| {row.workload} | {rate:.2f} | {p99:.2f} | {_fmt(cpu, '.2f')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drugs", type=int, action="append", help="Catalog size (repeatable; default 1000).")
    parser.add_argument("--duration", type=float, default=3.0, help="Seconds per workload and server.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="Alternating runs per workload; best is kept.")
    parser.add_argument(
        "--hot", type=int, default=200, help="Distinct drugs the per-drug workloads cycle over."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (logs, database).")
    parser.add_argument(
        "--only",
        action="append",
        help="Run only the workloads whose name contains this (repeatable), e.g. --only admin --only search.",
    )
    args = parser.parse_args()
    sizes = sorted(set(args.drugs or [1000]))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(
            0, {1}
        )  # the bench (and its fallback load generator) stays off the server's core
    wrk = ensure_wrk()
    started = time.monotonic()
    results = [run_size(drugs, args, wrk) for drugs in sizes]
    print(f"Machine: {machine()}. Load generator: {'wrk' if wrk else 'bench/loadgen.py'}.\n")
    for result in results:
        print(table(result, args) + "\n")
    if len(results) > 1:
        print(growth(results[0], results[-1]) + "\n")
    print(f"(bench took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
