"""Eligibility engine throughput: verdicts per second on the worked cases (pure Python, no database).

Usage: .venv/bin/python bench/bench_eligibility.py [--seconds 3]
Prints one JSON object and a short table.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screening import eligibility  # noqa: E402
from screening.cases import load_case  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    facts = [load_case(path) for path in sorted((ROOT / "tests/screening/cases").glob("*.json"))]
    results = {}
    for stage in ("primary", "secondary"):
        batch = [f for f in facts if isinstance(f, eligibility.PrimaryFacts if stage == "primary"
                                                 else eligibility.SecondaryFacts)]
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            for f in batch:
                eligibility.evaluate(f)
            count += len(batch)
        elapsed = time.perf_counter() - started
        results[stage] = {"verdicts": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed)}
    print(json.dumps({"benchmark": "eligibility", **results}))
    for stage, r in results.items():
        print(f"{stage:<10} {r['per_second']:>10,} verdicts/s  ({r['verdicts']:,} in {r['seconds']} s)")


if __name__ == "__main__":
    main()
