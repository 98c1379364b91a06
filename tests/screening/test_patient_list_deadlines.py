"""The patient list's next-deadline column (issue 20): values from the apps above screening (registration
windows, the schedule of assessments, expedited reports), the rows shown only, bounded queries, site scoping."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from followup import services as followup_services
from followup.models import ScheduleRule
from registration import selectors, windows
from safety import services as safety_services
from screening import deadlines
from screening.models import Patient
from tests.registration.factories import bulk_patients, bulk_randomized, make_eligible_screening, make_plans, register
from tests.safety.helpers import event_data, on_treatment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _randomization_set_up(db):
    from tests.randomization.factories import minimization_config

    return minimization_config()


@pytest.fixture
def plans(db):
    return make_plans()


@pytest.fixture
def schedule(data_manager):
    for from_day, interval, window in ((0, 84, 14), (1092, 182, 28)):  # example values (trial configuration)
        followup_services.save_schedule_rule(rule=ScheduleRule(from_day=from_day, interval_days=interval,
                                                               window_days=window), user=data_manager, reason="Example")


def cell(html: str, screening_number: str) -> str:
    """The next-deadline cell of one patient's row."""
    row = re.search(rf">{re.escape(screening_number)}</a>.*?</tr>", html, re.S).group(0)
    return re.search(r'<td class="next-deadline">(.*?)</td>', row, re.S).group(1)


def test_each_kind_of_deadline_shows_its_date_label_and_link(client, plans, schedule, site_a, coordinator_a):
    today = timezone.localdate()
    eligible = make_eligible_screening(site=site_a, on=today - dt.timedelta(days=2),
                                       labs_on=today - dt.timedelta(days=3)).patient
    registered = register(make_eligible_screening(site=site_a, on=today - dt.timedelta(days=20),
                                                  labs_on=today - dt.timedelta(days=21)), coordinator_a).patient
    followed = on_treatment(site_a, coordinator_a)  # randomized 2026-05-27: assessments of the schedule
    with_event = on_treatment(site_a, coordinator_a)
    safety_services.record_event(patient=with_event, data=event_data(), user=coordinator_a)  # G4: reportable
    screening_only = make_eligible_screening(site=site_a, on=today, ct_date=None).patient  # screen failed: none
    client.force_login(coordinator_a)
    html = client.get(reverse("screening:patient_list")).content.decode()

    labs = windows.lab_expiry(today - dt.timedelta(days=3))
    assert labs.isoformat() in cell(html, eligible.screening_number)
    assert "Lab results valid until" in cell(html, eligible.screening_number)

    expected = windows.next_deadline(selectors.timeline_of(Patient.objects.get(pk=registered.pk)), today)
    text = cell(html, registered.screening_number)
    assert expected.date.isoformat() in text and str(selectors.PATIENT_LIST_LABELS[expected.kind]) in text
    assert reverse("registration:patient", kwargs={"pk": registered.pk}) in text

    text = cell(html, followed.screening_number)  # randomized long ago: the first assessment is overdue
    assert "Follow-up assessment 1 due" in text and "overdue" in text
    assert reverse("followup:assessment", kwargs={"pk": followed.pk}) in text

    text = cell(html, with_event.screening_number)  # the unsigned first report is nearer than any assessment
    event = with_event.adverse_events.get()
    due = timezone.localtime(event.first_report_due)
    assert f"{due:%Y-%m-%d} {due:%H:%M}" in text and "First report" in text and "overdue" in text
    assert reverse("safety:event", kwargs={"pk": with_event.pk, "event_id": event.pk}) in text

    assert cell(html, screening_only.screening_number).strip() == "–"


def test_japanese_page_shows_japanese_labels(client, plans, site_a, coordinator_a):
    today = timezone.localdate()
    patient = make_eligible_screening(site=site_a, on=today, labs_on=today - dt.timedelta(days=1)).patient
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    html = client.get(reverse("screening:patient_list")).content.decode()
    text = cell(html, patient.screening_number)
    assert "Lab results" not in text and "臨床検査値" in text and "次の期限" in html


def test_sources_answer_for_the_page_only_and_the_page_for_its_sites_only(client, plans, site_a, site_b,
                                                                          coordinator_a, coordinator_b):
    today = timezone.localdate()
    mine = make_eligible_screening(site=site_a, on=today, labs_on=today).patient
    theirs = make_eligible_screening(site=site_b, on=today, labs_on=today).patient
    found = deadlines.nearest({mine.pk: mine.stage}, today, timezone.now())
    assert set(found) == {mine.pk}  # never a patient of another page or site
    client.force_login(coordinator_a)
    html = client.get(reverse("screening:patient_list")).content.decode()
    assert mine.screening_number in html and theirs.screening_number not in html
    assert reverse("registration:patient", kwargs={"pk": theirs.pk}) not in html
    assert deadlines.nearest({}, today, timezone.now()) == {}


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_column_costs_the_same_queries_for_a_few_and_a_full_page(client, plans, schedule, site_a, site_b,
                                                                     coordinator_a, django_assert_max_num_queries):
    today = timezone.localdate()
    plan = plans["luminal"]
    for patient in (on_treatment(site_a, coordinator_a),):  # one expedited report among the rows
        safety_services.record_event(patient=patient, data=event_data(), user=coordinator_a)
    bulk_patients(site_a, 4, plan=plan, user=coordinator_a, today=today, start=100)  # eligible and registered
    bulk_randomized(site_a, 2, plan=plan, user=coordinator_a, today=today)
    bulk_patients(site_b, 3, plan=plan, user=coordinator_a, today=today, start=1)  # another site
    client.force_login(coordinator_a)
    url = reverse("screening:patient_list")
    few = _count(client, url)
    bulk_patients(site_a, 60, plan=plan, user=coordinator_a, today=today, start=105)
    bulk_randomized(site_a, 60, plan=plan, user=coordinator_a, today=today, start=3)
    for query in ("", "?page=2", "?page=3"):
        with django_assert_max_num_queries(16):
            many = _count(client, url + query)
        assert many <= few, (query, few, many)
    assert _count(client, url) == few
