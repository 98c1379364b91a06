"""Run every benchmark: create the bench database, generate, measure, print the table, write results.json.

Usage: .venv/bin/python bench/run.py            (or: make bench)
       .venv/bin/python bench/run.py --quick    (small sizes, a few rounds: to check the scripts work)
Options: --keep-db (leave oligami_bench for profiling), --out bench/results.json, --skip-100k.

Steps (each script is its own process; each prints its JSON line, which is collected here):
 1. drop and create the PostgreSQL database `oligami_bench` (never the dev or test databases), migrate;
 2. generate 1,000 patients over 50 sites; query counts of every page (bench_pages --queries-only);
 3. grow to 10,000 patients; pages under gunicorn (latency ratios + query counts), the reminder scan,
    randomize under 50 concurrent requests;
 4. grow to 100,000 patients (busiest site 7,842): every page and changelist again (latency ratios and
    query counts: the issue-21 target is 3x the floor there), the exports (time, queries, peak RSS),
    the reminder scan and randomize again;
 5. the eligibility engine (verdicts/s) and simulate_randomization (2,000 reps), which need no database;
 6. drop the bench database (unless --keep-db).
Every figure that depends on the machine is a ratio to a floor measured in the same run, because the
machine (2 cores) is shared: see docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DB, ROOT, admin_connect, bench_env, create_database, drop_database, table

BENCH = ROOT / "bench"
# page_ratio: issue 10's target at 10,000 patients; page_ratio_100k: issue 21's, at the 7,842-patient site.
TARGETS = {"page_ratio": 2.0, "page_ratio_100k": 3.0, "randomize_ratio": 3.0}


def run(script, *args, timeout=3600, log=None):
    """Run a bench script with the bench environment; return its last JSON line (all output is echoed)."""
    cmd = [sys.executable, str(BENCH / script), *map(str, args)]
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=BENCH, env=bench_env(), capture_output=True, text=True, timeout=timeout)
    sys.stdout.write("".join(line + "\n" for line in proc.stdout.splitlines() if not line.startswith("{")))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{script} failed (exit {proc.returncode})")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result["_seconds"] = round(time.perf_counter() - started, 1)
    return result


def migrate():
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=bench_env(),
                   check=True)


def machine():
    with admin_connect() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "memory": mem, "postgresql": pg, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": [round(x, 2) for x in load] if load else None}


def _page_rows(pages: dict, small: dict, small_size: int, size: int, label: str, ratio: float) -> list[dict]:
    """Summary rows of one bench_pages run: latency ratio against `ratio`, queries at `small_size` and `size`."""
    rows = []
    for name, lat in pages.get("latency", {}).items():
        queries = pages["queries"][name]["queries"]
        q1 = small.get(name, {}).get("queries")
        target = "" if name in ("floor", "login_page_anon", "floor_dm") else f"<= {ratio}x"
        ok = "" if not target else ("ok" if lat["median_ratio"] <= ratio else "MISSED")
        rows.append({"what": f"page {name}{label}", "figure": f"median {lat['median_ratio']}x floor "
                     f"(p95 {lat['p95_ratio']}x; {lat['median_ms']} ms)",
                     "queries": f"{q1} @{small_size:,} / {queries} @{size:,}", "target": target,
                     "result": ok + ("" if q1 == queries else " (queries grow)")})
    return rows


def summary(results) -> str:
    """The short table of every figure against its target."""
    rows = []
    sizes = results["sizes"]
    small = results.get("queries_1k", {}).get("queries", {})
    # The pages at the middle size against issue 10's target, at the largest against issue 21's.
    for key, size, label, target_key in (("pages_10k", sizes[1], "", "page_ratio"),
                                         ("pages_100k", sizes[2], f" @{sizes[2]:,}", "page_ratio_100k")):
        rows.extend(_page_rows(results.get(key, {}), small, sizes[0], size, label, TARGETS[target_key]))
    for key in ("exports_10k", "exports_100k"):
        for e in results.get(key, {}).get("exports", []):
            rows.append({"what": f"export {e['kind']}, {e['rows']:,} rows",
                         "figure": f"{e['seconds']} s, peak RSS {e['peak_rss_mb']} MB (+{e['growth_mb']})",
                         "queries": str(e["queries"]), "target": "constant queries, flat memory", "result": ""})
    for name, lat in results.get("reports_uncached_10k", {}).get("latency", {}).items():
        if name in ("floor", "login_page_anon", "floor_dm"):
            continue
        rows.append({"what": f"page {name}, cache off (after a write)",
                     "figure": f"median {lat['median_ratio']}x floor (p95 {lat['p95_ratio']}x; {lat['median_ms']} ms)",
                     "queries": "", "target": "", "result": ""})
    for key in ("randomize", "randomize_100k"):
        r = results.get(key, {})
        if not r:
            continue
        ok = r["cost_ratio"] <= TARGETS["randomize_ratio"] and r["duplicate_allocations"] == 0
        rows.append({"what": f"randomize x{r['concurrency']} concurrent, {r['allocations_before']:,} allocations",
                     "figure": f"{r['cost_ratio']}x audited insert ({r['randomize_cost_ms']} vs "
                               f"{r['floor_insert_median_ms']} ms; counts {r['counts_before_query_ms']} ms)",
                     "queries": "", "target": "<= 3x, 0 duplicates",
                     "result": ("ok" if ok else "MISSED") + f"; dup {r['duplicate_allocations']}, "
                               f"errors {r['errors']}, verify {'OK' if r['verify_allocations_ok'] else 'BROKEN'}"})
    for key in ("scan_10k", "scan_100k"):
        s = results.get(key, {})
        if s.get("first"):
            rows.append({"what": f"reminder scan {s['patients']:,} patients",
                         "figure": f"{s['first']['wall_ms']} ms first, {s['repeat']['wall_ms']} ms repeat",
                         "queries": f"{s['first']['queries']} / {s['repeat']['queries']}",
                         "target": f"queries same at {sizes[1]:,} and {sizes[2]:,}", "result": ""})
    if results.get("scan_10k", {}).get("first") and results.get("scan_100k", {}).get("first"):
        same = all(results["scan_10k"][k]["queries"] == results["scan_100k"][k]["queries"] for k in ("first", "repeat"))
        rows[-1]["result"] = "ok" if same else "MISSED"
    e = results.get("eligibility", {})
    if e:
        rows.append({"what": "eligibility engine", "figure": f"{e['primary']['per_second']:,} primary, "
                     f"{e['secondary']['per_second']:,} secondary verdicts/s", "queries": "", "target": "",
                     "result": ""})
    s = results.get("simulation", {})
    for run_ in s.get("runs", []):
        rows.append({"what": f"simulate_randomization {run_['method']} {run_['reps']} reps",
                     "figure": f"{run_['command_s']} s (simulate() {run_['simulate_s']} s)", "queries": "",
                     "target": "", "result": ""})
    return table(rows, [("what", "measure"), ("figure", "figure"), ("queries", "queries"), ("target", "target"),
                        ("result", "")])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--skip-100k", action="store_true")
    parser.add_argument("--out", default=str(BENCH / "results.json"))
    args = parser.parse_args()
    sizes = (200, 1000, 3000) if args.quick else (1000, 10_000, 100_000)
    rounds = 5 if args.quick else 30
    started = time.perf_counter()
    results = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(), "sizes": sizes,
               "database": BENCH_DB}
    print(f"bench database {BENCH_DB}; machine {results['machine']}")
    create_database()
    try:
        migrate()
        results["generate_small"] = run("generate.py", "--patients", sizes[0])
        results["queries_1k"] = run("bench_pages.py", "--queries-only")
        results["generate_10k"] = run("generate.py", "--patients", sizes[1])
        results["pages_10k"] = run("bench_pages.py", "--rounds", rounds, "--max-seconds", 600)
        # The reports pages again with their cache off: what the first request after a write costs.
        results["reports_uncached_10k"] = run("bench_pages.py", "--rounds", max(rounds // 3, 3), "--max-seconds", 600,
                                              "--pages", "reports_site,reports_trial,not_randomized",
                                              "--no-reports-cache")
        results["scan_10k"] = run("bench_scan.py")
        results["randomize"] = run("bench_randomize.py", "--rounds", 2 if args.quick else 3)
        results["exports_10k"] = run("bench_exports.py")
        if not args.skip_100k:
            results["generate_100k"] = run("generate.py", "--patients", sizes[2], timeout=7200)
            results["pages_100k"] = run("bench_pages.py", "--rounds", max(rounds // 3, 3), "--max-seconds", 900,
                                        timeout=7200)
            results["exports_100k"] = run("bench_exports.py", timeout=7200)
            results["scan_100k"] = run("bench_scan.py")
            results["randomize_100k"] = run("bench_randomize.py", "--rounds", 2, "--seed", 51)
        results["eligibility"] = run("bench_eligibility.py", "--seconds", 1 if args.quick else 3)
        results["simulation"] = run("bench_simulation.py", "--reps", 200 if args.quick else 2000)
    finally:
        if not args.keep_db:
            drop_database()
    results["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\n== OLIGAMI benchmarks ({results['seconds']} s; written to {args.out})")
    print(summary(results))


if __name__ == "__main__":
    main()
