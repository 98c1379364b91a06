"""The central monitoring report: counted as of the cut-off, per site and in total; command contract."""

import datetime as dt
import json
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from oversight import monitoring, queries
from tests.factories import PatientFactory
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db


def at(day: dt.date, hour=12):
    """Noon in Tokyo on `day`."""
    return time_machine.travel(dt.datetime(day.year, day.month, day.day, hour - 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def scene(site_a, site_b, coordinator_a, data_manager):
    make_plans()
    with at(JUDGED_ON):
        first = register(make_eligible_screening(site=site_a), coordinator_a)
        make_eligible_screening(site=site_b)
    later = make_eligible_screening(site=site_a, on=JUDGED_ON + dt.timedelta(days=10))
    with at(JUDGED_ON + dt.timedelta(days=1)):
        query = queries.open_query(user=data_manager, patient=first.patient, text="?")
    with at(JUDGED_ON + dt.timedelta(days=30)):
        queries.close_query(user=data_manager, query=query, text="ok")
    return {"first": first, "later": later, "query": query}


def row(result, code):
    return next(s for s in result.as_dict()["sites"] if s["code"] == code)


def test_counts_as_of_the_cutoff(scene, site_a, site_b):
    before = monitoring.report(cutoff=JUDGED_ON - dt.timedelta(days=1)).as_dict()
    assert before["total"]["screened"] == 0 and before["total"]["open_queries"] == 0
    on_day = monitoring.report(cutoff=JUDGED_ON)
    assert row(on_day, site_a.code)["screened"] == 1 and row(on_day, site_b.code)["screened"] == 1
    assert row(on_day, site_a.code)["primary_registered"] == 1
    assert row(on_day, site_a.code)["open_queries"] == 0  # raised the next day
    # The query was open from day 1 to day 30: open at day 20, overdue (more than 14 days waiting) at day 16.
    day_16 = monitoring.report(cutoff=JUDGED_ON + dt.timedelta(days=16))
    assert row(day_16, site_a.code)["open_queries"] == 1 and row(day_16, site_a.code)["overdue_queries"] == 1
    day_15 = monitoring.report(cutoff=JUDGED_ON + dt.timedelta(days=15))
    assert row(day_15, site_a.code)["overdue_queries"] == 0
    after_close = monitoring.report(cutoff=JUDGED_ON + dt.timedelta(days=30))
    assert row(after_close, site_a.code)["open_queries"] == 0
    assert row(after_close, site_a.code)["screened"] == 2
    totals = after_close.as_dict()["total"]
    assert totals["screened"] == 3 and "code" not in totals
    assert set(totals) == {*monitoring.COUNT_KEYS, monitoring.PERCENT_KEY}


def test_command_prints_the_contract(scene, site_a):
    out = StringIO()
    call_command("monitoring_report", "--cutoff", JUDGED_ON.isoformat(), "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["cutoff"] == JUDGED_ON.isoformat()
    assert [s["code"] for s in data["sites"]] == sorted(s["code"] for s in data["sites"])
    for site in data["sites"]:
        assert list(site) == ["code", *monitoring.COUNT_KEYS, monitoring.PERCENT_KEY]
    with pytest.raises(CommandError):
        call_command("monitoring_report", "--cutoff", "2026-02-30")


def test_page_and_csv_scoped(client, scene, site_a, site_b, coordinator_b, data_manager, statistician):
    client.force_login(coordinator_b)
    page = client.get(reverse("oversight:monitoring"), {"cutoff": "2026-03-02"}).content.decode()
    assert site_b.code in page and f">{site_a.code}<" not in page
    csv_response = client.get(reverse("oversight:monitoring_csv"), {"cutoff": "2026-03-02"})
    csv_text = b"".join(csv_response.streaming_content).decode()  # streamed by the CSV kit
    assert site_a.code not in csv_text
    client.force_login(data_manager)
    page = client.get(reverse("oversight:monitoring"), {"cutoff": "nonsense"})
    assert page.status_code == 200
    client.force_login(statistician)
    assert client.get(reverse("oversight:monitoring")).status_code == 403


def test_page_runs_bounded_queries(client, site_a, data_manager, django_assert_max_num_queries):
    for _ in range(20):
        PatientFactory(site=site_a)
    client.force_login(data_manager)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("oversight:monitoring")).status_code == 200


def first_failed_in_python(cutoff, site_ids=None):
    """The reasons as the report counted them before they moved into the database: every verdict loaded, its
    first `failed` criterion, else its first `excluded_by`, else "?" (the reference the query must match)."""
    from collections import Counter

    from screening.models import Screening
    rows = Screening.objects.filter(screening_date__lte=cutoff, outcome=Screening.Outcome.NOT_ELIGIBLE)
    if site_ids is not None:
        rows = rows.filter(patient__site_id__in=site_ids)
    counts = Counter()
    for verdict in rows.values_list("verdict", flat=True):
        failed = (verdict or {}).get("failed") or (verdict or {}).get("excluded_by") or []
        counts[failed[0] if failed else "?"] += 1
    return counts


def test_screen_failure_reasons_are_the_first_failed_criterion_counted_in_the_database(site_a, site_b):
    from screening.models import Screening
    make_eligible_screening(site=site_a)  # eligible: not a screen failure
    make_eligible_screening(site=site_a, er="unknown")  # P2
    make_eligible_screening(site=site_a, er="unknown", ecog=3)  # P2 and P10: the first counts
    make_eligible_screening(site=site_b, ecog=3)  # P10
    make_eligible_screening(site=site_a, invasive_carcinoma=False)  # P1
    excluded = make_eligible_screening(site=site_b, e7=True)  # excluded by E7, nothing failed
    assert excluded.outcome == Screening.Outcome.NOT_ELIGIBLE
    assert excluded.verdict["failed"] == [] and excluded.verdict["excluded_by"] == ["E7"]
    without_verdict = make_eligible_screening(site=site_a, ecog=3)  # a failure whose snapshot is missing: "?"
    without_verdict.verdict = None
    without_verdict.save()
    emptied = make_eligible_screening(site=site_b, ecog=3)  # nothing listed in its snapshot: "?"
    emptied.verdict = {**emptied.verdict, "failed": [], "excluded_by": []}
    emptied.save()
    make_eligible_screening(site=site_a, ecog=3, on=JUDGED_ON + dt.timedelta(days=5))  # after the cut-off

    reasons = monitoring.screen_failure_reasons(JUDGED_ON, None)
    assert reasons == [("P2", 2), ("?", 2), ("E7", 1), ("P1", 1), ("P10", 1)]  # ties: family, number; "?" last
    assert dict(reasons) == first_failed_in_python(JUDGED_ON)
    assert monitoring.report(cutoff=JUDGED_ON).screen_failure_reasons == reasons
    for scope in ({site_a.pk}, {site_b.pk}, set()):
        assert dict(monitoring.screen_failure_reasons(JUDGED_ON, scope)) == first_failed_in_python(JUDGED_ON, scope)
    assert monitoring.screen_failure_reasons(JUDGED_ON, {site_b.pk}) == [("E7", 1), ("P10", 1), ("?", 1)]
    later = JUDGED_ON + dt.timedelta(days=5)
    assert dict(monitoring.screen_failure_reasons(later, None)) == first_failed_in_python(later)
    assert dict(monitoring.screen_failure_reasons(later, None))["P10"] == 2
    assert monitoring.screen_failure_reasons(JUDGED_ON - dt.timedelta(days=1), None) == []


def test_ties_between_criteria_are_ordered_by_family_then_number():
    ordered = sorted([("P10", 3), ("P2", 3), ("E7", 3), ("?", 3), ("P9", 5)], key=monitoring._criterion_order)
    assert ordered == [("P9", 5), ("E7", 3), ("P2", 3), ("P10", 3), ("?", 3)]
