"""Loopback HTTP load: GET a set of pages round after round and record every latency (stdlib only).

Run by bench_pages.py as a separate process, so that the client's work never shares the server's
interpreter. Input: one JSON object on stdin:
  {"host": "127.0.0.1", "port": 8123, "rounds": 60, "warmup": 3, "concurrency": 2, "max_seconds": 240,
   "headers": {...}, "pages": [{"name": "floor", "path": "/accounts/password/", "cookie": "sessionid=..."}]}
Each round requests every page once, in a new random order, so that noise from other processes on the
machine falls on all pages alike. Bounded in requests (rounds x pages) and in time (max_seconds).
Only 127.0.0.1 is ever contacted. Output: one JSON object {"latencies": {name: [seconds...]}, ...}.
"""

import http.client
import json
import random
import sys
import threading
import time


def fetch(host, port, path, headers):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return response.status, len(body), elapsed


def main():
    spec = json.load(sys.stdin)
    host, port = spec["host"], spec["port"]
    if host != "127.0.0.1":
        raise SystemExit("load.py only talks to 127.0.0.1")
    pages = spec["pages"]
    deadline = time.monotonic() + spec.get("max_seconds", 240)
    latencies = {p["name"]: [] for p in pages}
    statuses = {p["name"]: {} for p in pages}
    sizes = {}
    lock = threading.Lock()
    rounds = spec["rounds"]
    warmup = spec.get("warmup", 2)
    next_round = iter(range(rounds + warmup))
    stopped = {"time": False}

    def worker(seed):
        rng = random.Random(seed)
        while True:
            with lock:
                r = next(next_round, None)
            if r is None:
                return
            if time.monotonic() > deadline:
                stopped["time"] = True
                return
            order = list(pages)
            rng.shuffle(order)
            for page in order:
                headers = dict(spec.get("headers", {}))
                if page.get("cookie"):
                    headers["Cookie"] = page["cookie"]
                status, size, elapsed = fetch(host, port, page["path"], headers)
                with lock:
                    statuses[page["name"]][status] = statuses[page["name"]].get(status, 0) + 1
                    sizes[page["name"]] = size
                    if r >= warmup:
                        latencies[page["name"]].append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(spec.get("concurrency", 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump({"latencies": latencies, "statuses": statuses, "bytes": sizes,
               "seconds": round(time.perf_counter() - started, 2), "stopped_by_time": stopped["time"]}, sys.stdout)


if __name__ == "__main__":
    main()
