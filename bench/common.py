"""What the benchmark scripts share: the bench database, its environment, Django set-up and statistics.

The bench database is its own PostgreSQL database (default `oligami_bench`, never the dev or test
databases); the runner (bench/run.py) creates and drops it. Every script that touches it calls
`setup_django()` first, which points DATABASE_URL at it and keeps e-mail and var/ away from the dev tree.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
BENCH_DB = os.environ.get("BENCH_DB", "oligami_bench")
# Every user the generator creates has this password (one hash computed once, see generate.py).
PASSWORD = "bench-password-oligami-do-not-reuse"  # noqa: S105 (bench database users only)
VAR_DIR = Path(os.environ.get("BENCH_VAR_DIR", Path(tempfile.gettempdir()) / "oligami-bench"))

if BENCH_DB in ("oligami", "postgres", "template0", "template1") or BENCH_DB.startswith("test_"):
    raise SystemExit(f"refusing to use {BENCH_DB!r} as the bench database")


def database_url(name: str = BENCH_DB) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def bench_env(**extra) -> dict[str, str]:
    """The environment of every bench process: bench database, no real e-mail, var/ outside the tree."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url(),
        "EMAIL_URL": "dummymail://",  # randomize e-mails the site after commit: not what is measured
        "OLIGAMI_VAR_DIR": str(VAR_DIR / "var"),
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "oligami_site.settings",
        "PYTHONPATH": str(ROOT),
    })
    env.pop("OLIGAMI_ENV", None)  # in-process scripts use the default settings; gunicorn gets production
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django():
    """Django against the bench database (call before importing any model)."""
    os.environ.update(bench_env())
    import django

    django.setup()


def admin_connect(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True)


def drop_database(name: str = BENCH_DB):
    with admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str = BENCH_DB):
    drop_database(name)
    with admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


# --- statistics and output ------------------------------------------------------------------------


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def emit(result: dict):
    """One JSON line (the runner reads it), flushed at once."""
    print(json.dumps(result, default=str), flush=True)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain text table: columns are (key, heading)."""
    cells = [[h for _k, h in columns]] + [["" if r.get(k) is None else str(r.get(k)) for k, _h in columns]
                                          for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
