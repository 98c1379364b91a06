"""Wall time of the randomization simulation: 2,000 reps of 240 patients per method (RANDOMIZATION.md).

Usage: .venv/bin/python bench/bench_simulation.py [--reps 2000]
Times `python manage.py simulate_randomization --json` as a whole command (what a statistician runs),
and the pure simulate() call it wraps. Prints one JSON object and a short table.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from randomization.simulation import simulate  # noqa: E402

RUNS = [("minimization", ["--p", "0.8"], {"p": 0.8}), ("blocks", ["--block-sizes", "4,6"], {"block_sizes": (4, 6)}),
        ("simple", [], {})]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    for method, cli, kwargs in RUNS:
        started = time.perf_counter()
        simulate(method, reps=args.reps, seed=2110, **kwargs)
        pure = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "simulate_randomization", "--method", method, *cli,
                        "--reps", str(args.reps), "--seed", "2110", "--json"],
                       cwd=ROOT, check=True, capture_output=True)
        command = time.perf_counter() - started
        rows.append({"method": method, "reps": args.reps, "simulate_s": round(pure, 2), "command_s": round(command, 2)})
    print(json.dumps({"benchmark": "simulate_randomization", "runs": rows}))
    for r in rows:
        print(f"{r['method']:<13} {r['reps']} reps: simulate() {r['simulate_s']:>6} s, command {r['command_s']:>6} s")


if __name__ == "__main__":
    main()
