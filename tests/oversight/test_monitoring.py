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
