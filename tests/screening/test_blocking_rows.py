"""The screening log's criteria that block: only those are rendered (docs/performance.md), and they are
exactly the rows of the full checklist that are not met, then those that are missing, in engine order."""

import datetime as dt

from screening import eligibility as rules
from screening import verdicts


def _snapshot(ecog=None):
    # Most facts missing, E7 applying, and (with ecog=3) P10 not met: failed and missing rows together.
    facts = rules.PrimaryFacts(registration_date=dt.date(2026, 3, 2), birth_date=dt.date(1960, 1, 1),
                               sex="female", lesions=[], ecog=ecog, exclusions={"E7": True})
    return verdicts.snapshot(rules.evaluate(facts))


def _full_checklist_way(snapshot):
    every = verdicts.rows(snapshot, with_details=False)
    return [r for r in every if r.not_met] + [r for r in every if r.missing]


def test_blocking_rows_are_the_failed_then_missing_rows_of_the_checklist():
    for snapshot in (_snapshot(), _snapshot(ecog=3)):
        blocking = verdicts.blocking_rows(snapshot)
        assert blocking == _full_checklist_way(snapshot)
        assert blocking and all(r.not_met or r.missing for r in blocking)
        statuses = [r.status for r in blocking]
        assert statuses == sorted(statuses, key=lambda s: s != rules.NOT_MET)  # failed first, then missing
        assert any(r.id == "E7" and r.not_met for r in blocking)


def test_no_verdict_blocks_nothing():
    assert verdicts.blocking_rows(None) == [] and verdicts.blocking_rows({}) == []


def test_the_database_selects_the_same_blocking_criteria(db, site_a):
    """The screening log selects the blocking criteria in SQL (PostgreSQL and SQLite): same rows, same order."""
    from screening.models import Screening
    from tests.factories import PatientFactory

    eligible = verdicts.snapshot(rules.evaluate(rules.PrimaryFacts(
        registration_date=dt.date(2026, 3, 2), birth_date=dt.date(1960, 1, 1), sex="female", lesions=[])))
    snapshots = [_snapshot(), _snapshot(ecog=3), eligible, {"criteria": []}, {}]
    for n, snapshot in enumerate(snapshots):
        Screening.objects.create(patient=PatientFactory(site=site_a), number=1, verdict=snapshot,
                                 screening_date=dt.date(2026, 3, 2) + dt.timedelta(days=n))
    selected = (Screening.objects.order_by("screening_date")
                .annotate(blocking=verdicts.BlockingCriteria("verdict")).values_list("blocking", flat=True))
    for snapshot, items in zip(snapshots, selected, strict=True):
        assert (items or []) == [i for i in snapshot.get("criteria", []) if i["status"] != rules.MET]
        assert verdicts.blocking_rows({"criteria": items or []}) == verdicts.blocking_rows(snapshot)
    assert len(verdicts.blocking_rows({"criteria": selected[1]})) > 3  # failed and missing rows came through
