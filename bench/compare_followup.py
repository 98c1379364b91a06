"""The follow-up selectors (and the re-consent list) against their former implementation
(tests/followup/reference_selectors.py) on the bench database: the same results, and the time of each, once,
in process (cache off; the comparison is not timed). Read-only.

Usage: BENCH_DB=oligami_bench .venv/bin/python bench/compare_followup.py
"""

from __future__ import annotations

import dataclasses
import json
import time

from common import setup_django


def normalized(followups: dict) -> dict:
    """PatientFollowup with its assessments sorted (neither implementation orders them; nothing reads their order)."""
    return {pid: dataclasses.replace(f, facts=dataclasses.replace(f.facts, assessments=tuple(sorted(
        f.facts.assessments, key=lambda a: (a.date, a.progression))))) for pid, f in followups.items()}


def by_patient(rows: list) -> list:
    return sorted(rows, key=lambda r: r.patient_id)


def main():
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from followup import reconsent
    from followup import selectors as new
    from oligami_site.models import Site
    from screening import consents
    from screening.models import Patient
    from tests.followup import reference_selectors as old

    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    today = timezone.localdate()
    survey = new.open_survey()
    busiest = Site.objects.order_by("code").first()
    scopes = {"trial": Patient.objects.all(), busiest.code: Patient.objects.filter(site_id__in={busiest.pk})}
    cases = []  # (name, former, current, how to compare the results)
    for scope, patients in scopes.items():
        cases += [
            (f"followup_for {scope}", lambda p=patients: old.followup_for(old.origins_of(p)),
             lambda p=patients: new.followup_for(p), normalized),
            (f"survey_rows {scope}", lambda p=patients: old.survey_rows(survey, p),
             lambda p=patients: new.survey_rows(survey, p), None),
            (f"status_as_of {scope}", lambda p=patients: old.status_as_of(p, today),
             lambda p=patients: new.status_as_of(p, today), by_patient),
            (f"survival_data by arm {scope}", lambda p=patients: old.survival_data(p, by_arm=True),
             lambda p=patients: new.survival_data(p, by_arm=True), None),
            (f"survival_data pooled {scope}", lambda p=patients: old.survival_data(p, by_arm=False),
             lambda p=patients: new.survival_data(p, by_arm=False), None),
            (f"after_randomization {scope}", lambda p=patients: old.after_randomization(p),
             lambda p=patients: new.after_randomization(p), None),
            (f"awaiting_reconsent {scope}", lambda p=patients: reconsent_rows(old.awaiting_reconsent, p),
             lambda p=patients: reconsent_rows(consents.awaiting_reconsent, p), None),
        ]

    def reconsent_rows(function, patients):
        return [(p.pk, d.pk if d else None, on) for p, d, on in function(reconsent.candidates(patients), today)]

    randomized = new.randomized_patients().count()
    print(f"{Patient.objects.count()} patients, {randomized} randomized; busiest site {busiest.code}")
    results = []
    for name, before, after, key in cases:
        timing = {}
        for label, fn in (("before", before), ("after", after)):  # once each: 100,000 patients take a while
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                value = fn()
                timing[label] = (time.perf_counter() - start, len(ctx.captured_queries), value)
        values = [timing[label][2] if key is None else key(timing[label][2]) for label in ("before", "after")]
        row = {"case": name, "same": values[0] == values[1],
               "rows": len(values[1]) if hasattr(values[1], "__len__") else None,
               "before_ms": round(timing["before"][0] * 1000), "after_ms": round(timing["after"][0] * 1000),
               "queries_before": timing["before"][1], "queries_after": timing["after"][1]}
        results.append(row)
        print(json.dumps(row), flush=True)
    assert all(r["same"] for r in results), "results differ"
    print("ALL SAME")


if __name__ == "__main__":
    main()
