"""Exports written by the background job (oversight/export_jobs.write) on the bench database: time, rows,
bytes, queries and peak memory of the process (issue 21).

Usage: .venv/bin/python bench/bench_exports.py [--kinds analysis,screenings,patients]

Each export runs in its own fresh process (`--one KIND`), so that its peak RSS is its own: the process
sets Django up, records its RSS, writes the export as the Celery task does (as the data manager
bench_dm) and reports the peak RSS (getrusage ru_maxrss) and the growth over the set-up's. Queries are
counted with CaptureQueriesContext. The floor for the time is the same process's COUNT(*) of the rows,
which every export pays once (`_source`).

`--read-only`: for a database that must not be written (the shared 100,000-patient one): the same rows and
CSV lines written to a temporary file and hashed as the job writes them, but no job row, so none of the
job's own queries (its saves and the progress UPDATE every 1,000 rows): the queries are the export's COUNT
and its reads.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from common import ROOT, bench_env, emit, table


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _read_only(kind: str) -> dict:
    """What `export_jobs.write` does with the rows, without the job row (see the module docstring)."""
    import hashlib

    from oversight import export_jobs, exports

    header, rows, _total = export_jobs._source(kind)
    digest, written, size = hashlib.sha256(), 0, 0
    with tempfile.TemporaryFile() as out:
        for number, line in enumerate(exports.csv_lines(header, rows)):
            data = line.encode("utf-8")
            out.write(data)
            digest.update(data)
            size += len(data)
            written = number
    return {"status": "read-only", "rows": written, "bytes": size, "sha256": digest.hexdigest()}


def one(kind: str, read_only: bool = False) -> dict:
    from common import setup_django

    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oligami_site.models import User
    from oversight import export_jobs

    settings.EXPORT_DIR = tempfile.mkdtemp(prefix="oligami-bench-exports-")
    before = _rss_kb()
    started = time.perf_counter()
    _header, _rows, total = export_jobs._source(kind)
    count_seconds = time.perf_counter() - started
    if read_only:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            written = _read_only(kind)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"kind": kind, **written, "total": total, "seconds": round(seconds, 2),
                "count_seconds": round(count_seconds, 3), "queries": len(ctx.captured_queries),
                "rss_before_mb": round(before / 1024, 1), "peak_rss_mb": round(peak / 1024, 1),
                "growth_mb": round((peak - before) / 1024, 1)}
    user = User.objects.get(username="bench_dm")
    job = export_jobs.ExportJob.objects.create(requested_by=user, kind=kind, token=f"bench-{kind}-{time.time_ns()}")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        job = export_jobs.write(job.pk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    export_jobs.path_of(job).unlink(missing_ok=True)
    return {"kind": kind, "status": job.status, "rows": job.rows, "total": total, "bytes": job.size,
            "seconds": round(seconds, 2), "count_seconds": round(count_seconds, 3),
            "queries": len(ctx.captured_queries), "rss_before_mb": round(before / 1024, 1),
            "peak_rss_mb": round(peak / 1024, 1), "growth_mb": round((peak - before) / 1024, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="analysis,screenings,patients")
    parser.add_argument("--read-only", action="store_true", help="no job row: for a database not to be written")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.read_only)), flush=True)
        return
    results = []
    for kind in args.kinds.split(","):
        proc = subprocess.run([sys.executable, __file__, "--one", kind, *(["--read-only"] if args.read_only else [])],
                              cwd=ROOT / "bench", env=bench_env(),
                              capture_output=True, text=True, check=True, timeout=3600)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    emit({"benchmark": "exports", "exports": results})
    print(table(results, [(k, k) for k in ("kind", "status", "rows", "bytes", "seconds", "count_seconds", "queries",
                                            "rss_before_mb", "peak_rss_mb", "growth_mb")]))


if __name__ == "__main__":
    main()
