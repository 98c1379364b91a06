"""Profile one page in process (pyinstrument) against the bench database: where does its time go?

Usage: .venv/bin/python bench/profile_page.py PAGE [--as crc|dm] [--repeat 5]
PAGE is a name of bench_pages.py (worklist, patient_list, patient_page, screening_log, balance,
reports_site, reports_trial, not_randomized) or a path. Needs `pip install pyinstrument` in the venv
(a development tool, not a requirement of the runner). Prints the call tree of the slowest request
and the SQL time of each request.
"""

import argparse
import time

from common import setup_django

setup_django()

import bench_pages  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page")
    parser.add_argument("--as", dest="who", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quiet", action="store_true", help="timings only, without the profiler")
    args = parser.parse_args()
    from pyinstrument import Profiler

    setup_test_environment()
    subject = bench_pages.subjects()
    by_name = {name: (path, who) for name, path, who in bench_pages.pages(subject)}
    path, who = by_name.get(args.page, (args.page, "crc"))
    client = bench_pages.client_login(subject[args.who or who or "crc"])
    client.get(path)
    slowest = None
    for _ in range(args.repeat):
        profiler = Profiler(interval=0.0005)
        with CaptureQueriesContext(connection) as ctx:
            started, cpu = time.perf_counter(), time.process_time()
            if not args.quiet:
                profiler.start()
            response = client.get(path)
            if not args.quiet:
                profiler.stop()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        sql = sum(float(q["time"]) for q in ctx.captured_queries)
        print(f"{path}: {response.status_code}, {elapsed * 1000:.1f} ms, {len(ctx.captured_queries)} queries, "
              f"SQL {sql * 1000:.1f} ms, CPU here {cpu * 1000:.1f} ms, {len(response.content):,} bytes")
        if slowest is None or elapsed > slowest[0]:
            slowest = (elapsed, profiler)
    if not args.quiet:
        print(slowest[1].output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
