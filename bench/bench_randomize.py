"""randomize under 50 concurrent requests on PostgreSQL: cost as a ratio to one audited insert, and integrity.

Usage: .venv/bin/python bench/bench_randomize.py [--concurrency 50] [--rounds 3] [--inserts 100]

- The floor: one audited insert of a comparable model, a Patient saved with its simple-history row in
  its own transaction (what every service write costs at least), timed one at a time; the same insert
  is also timed 50 at a time for reference.
- randomize: a pool of patients secondary registered today (bench/generate.py `ready_pool`, spread over
  the sites) is randomized by `randomization.services.randomize` with the factors the secondary
  registration service computes, from 50 threads (one database connection each) released together by
  a barrier. The cost of one allocation under contention is the round's wall time / 50 (allocations are
  serialised trial-wide on the configuration row by design); its median over the rounds is divided by
  the floor's median. Each request's own latency (queueing included) is reported too, and the serial
  cost (one randomize at a time).
- Double submits: a further round of 50 threads on 25 patients, each patient twice at once.
- Integrity: allocations per patient (duplicates), sequence numbers without gap or repeat, errors,
  every double submit answered with the same allocation, and `manage.py verify_allocations`.
"""

from __future__ import annotations

import argparse
import io
import threading
import time

from common import emit, median, ms, percentile, setup_django, table

setup_django()

import generate  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402

from oligami_site.models import Membership, Site, User  # noqa: E402
from randomization import services  # noqa: E402
from randomization.models import Allocation, RandomizationConfig  # noqa: E402
from registration.models import SecondaryRegistration  # noqa: E402
from registration.services import allocation_factors  # noqa: E402
from screening.models import Patient  # noqa: E402

FLOOR_SITE = "ZFLOOR"  # the audited inserts go to a site of their own, away from the measured pages


def audited_insert(site, user, sequence):
    with transaction.atomic():
        patient = Patient(site=site, sequence=sequence, screening_number=f"{site.code}-S{sequence:05d}", sex="female",
                          birth_date="1960-01-01", stage=Patient.Stage.SCREENING)
        patient._history_user = user
        patient._change_reason = "Patient created"
        patient.save()


def floor_site():
    site, created = Site.objects.get_or_create(code=FLOOR_SITE, defaults={
        # Left pending approval (the default status): never open to accrual, only the floor's direct inserts.
        "name_en": "Bench floor (audited inserts)", "name_ja": "ベンチ"})
    user, _ = User.objects.get_or_create(username="bench_floor", defaults={"password": make_password(None)})
    return site, user


def next_sequence(site):
    return (Patient.objects.filter(site=site).aggregate(m=Max("sequence"))["m"] or 0) + 1


def floor_serial(n):
    site, user = floor_site()
    start = next_sequence(site)
    times = []
    for i in range(n):
        started = time.perf_counter()
        audited_insert(site, user, start + i)
        times.append(time.perf_counter() - started)
    return times


def in_threads(jobs):
    """Run each job (a callable) in its own thread, all released together; (latencies, wall, errors)."""
    barrier = threading.Barrier(len(jobs))
    latencies, errors, results = [None] * len(jobs), [], [None] * len(jobs)
    marks = []
    lock = threading.Lock()

    def run(i, job):
        try:
            connection.ensure_connection()  # connect before the barrier: the connection is not what is timed
            barrier.wait()
            started = time.perf_counter()
            try:
                results[i] = job()
            except Exception as exc:  # noqa: BLE001 (counted and reported)
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            ended = time.perf_counter()
            latencies[i] = ended - started
            with lock:
                marks.append((started, ended))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max(e for _s, e in marks) - min(s for s, _e in marks)
    return latencies, wall, errors, results


def floor_concurrent(n):
    site, user = floor_site()
    start = next_sequence(site)
    return in_threads([lambda i=i: audited_insert(site, user, start + i) for i in range(n)])


def pool(n, seed):
    ids = generate.ready_pool(n, seed)
    records = (SecondaryRegistration.objects.filter(patient_id__in=ids)
               .select_related("patient__site", "primary", "evaluation"))
    # Each request gets its own user instance (as each web request loads its own), the site's coordinator.
    coordinators = dict(Membership.objects.filter(role=Membership.Role.COORDINATOR).values_list("site_id", "user_id"))
    return [(r.patient, allocation_factors(r), User.objects.get(pk=coordinators[r.patient.site_id])) for r in records]


def randomize_job(patient, factors, user):
    return lambda: services.randomize(patient=patient, factors=factors, user=user).pk


def counts_before_cost(item, repeat=20):
    """The counts before allocation (median ms): the tally rows of the patient's levels (an aggregate over
    every allocation before the tally, which grew with the trial)."""
    patient, factors, _user = item
    config = RandomizationConfig.objects.get(active=True)
    levels = services._levels(config, Patient.objects.select_related("site").get(pk=patient.pk), factors)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        services._counts_before(config, levels, patient.site_id)
        times.append(time.perf_counter() - started)
    return ms(median(times))


def integrity():
    per_patient = (Allocation.objects.values("patient_id").annotate(n=Count("id")).filter(n__gt=1).count())
    stats = Allocation.objects.aggregate(n=Count("id"), lo=Min("sequence"), hi=Max("sequence"))
    distinct_sequences = Allocation.objects.values("sequence").distinct().count()
    out = io.StringIO()
    try:
        call_command("verify_allocations", stdout=out, stderr=out)
        verified = out.getvalue().strip().splitlines()[-1]
        ok = verified.startswith("OK")
    except Exception as exc:  # noqa: BLE001 (a broken chain is a finding, reported)
        verified, ok = str(exc), False
    return {"duplicate_allocations": per_patient, "allocations": stats["n"],
            "sequence_gaps": (stats["hi"] - stats["lo"] + 1 - stats["n"]) if stats["n"] else 0,
            "sequence_repeats": stats["n"] - distinct_sequences, "verify_allocations_ok": ok,
            "verify_allocations": verified}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inserts", type=int, default=100)
    parser.add_argument("--serial", type=int, default=20)
    parser.add_argument("--seed", type=int, default=50)
    args = parser.parse_args()
    c = args.concurrency
    before = Allocation.objects.count()

    floor_serial(5)  # warm
    floor = floor_serial(args.inserts)
    floor_median = median(floor)
    insert_lat, insert_wall, insert_errors, _ = floor_concurrent(c)

    patients = pool(args.serial + args.rounds * c + c // 2, args.seed)
    serial = []
    for patient, factors, user in patients[: args.serial]:
        started = time.perf_counter()
        services.randomize(patient=patient, factors=factors, user=user)
        serial.append(time.perf_counter() - started)
    rest = patients[args.serial:]

    rounds, latencies, errors = [], [], []
    for r in range(args.rounds):
        batch = rest[r * c:(r + 1) * c]
        lat, wall, errs, _ = in_threads([randomize_job(*item) for item in batch])
        rounds.append(wall / len(batch))
        latencies.extend(lat)
        errors.extend(errs)

    # Double submits: every patient of this round is randomized twice at the same moment.
    doubles = rest[args.rounds * c: args.rounds * c + c // 2]
    jobs = [randomize_job(*item) for item in doubles for _twice in range(2)]
    _lat, double_wall, double_errors, results = in_threads(jobs)
    mismatched = sum(1 for i in range(0, len(results), 2) if results[i] is None or results[i] != results[i + 1])

    cost = median(rounds)
    counts_ms = counts_before_cost(patients[0])
    checks = integrity()
    expected = args.serial + args.rounds * c + len(doubles)
    result = {
        "benchmark": "randomize", "concurrency": c, "rounds": args.rounds,
        "floor_insert_median_ms": ms(floor_median), "floor_insert_p95_ms": ms(percentile(floor, 95)),
        "insert_concurrent_cost_ms": ms(insert_wall / c), "insert_concurrent_errors": len(insert_errors),
        "randomize_cost_ms": ms(cost), "randomize_cost_per_round_ms": [ms(x) for x in rounds],
        "cost_ratio": round(cost / floor_median, 2),
        "latency_median_ms": ms(median(latencies)), "latency_p95_ms": ms(percentile(latencies, 95)),
        "serial_median_ms": ms(median(serial)), "serial_ratio": round(median(serial) / floor_median, 2),
        "counts_before_query_ms": counts_ms, "allocations_before": before,
        "errors": len(errors) + len(double_errors), "error_samples": (errors + double_errors)[:5],
        "double_submits": len(doubles), "double_submit_mismatches": mismatched,
        "allocations_added": Allocation.objects.count() - before, "allocations_expected": expected,
        **checks,
    }
    emit(result)
    print(table([
        {"what": "audited insert (Patient + history), one at a time", "ms": result["floor_insert_median_ms"],
         "ratio": 1.0},
        {"what": f"audited insert, {c} at once: wall / {c}", "ms": result["insert_concurrent_cost_ms"],
         "ratio": round(insert_wall / c / floor_median, 2)},
        {"what": "randomize, one at a time", "ms": result["serial_median_ms"], "ratio": result["serial_ratio"]},
        {"what": f"randomize, {c} at once: wall / {c} (median of {args.rounds})", "ms": result["randomize_cost_ms"],
         "ratio": result["cost_ratio"]},
        {"what": f"randomize, {c} at once: each request's latency, median", "ms": result["latency_median_ms"],
         "ratio": None},
        {"what": f"randomize, {c} at once: each request's latency, p95", "ms": result["latency_p95_ms"],
         "ratio": None},
        {"what": f"of which the counts before allocation (tally rows; {before:,} allocations)", "ms": counts_ms,
         "ratio": round(counts_ms / 1000 / floor_median, 2)},
    ], [("what", "measure"), ("ms", "ms"), ("ratio", "x insert")]))
    print(f"integrity: {result['allocations_added']} allocations added (expected {expected}), duplicates "
          f"{result['duplicate_allocations']}, sequence gaps {result['sequence_gaps']}, repeats "
          f"{result['sequence_repeats']}, errors {result['errors']}, double submits answered differently "
          f"{mismatched}/{len(doubles)}; verify_allocations: {result['verify_allocations']}")


if __name__ == "__main__":
    main()
