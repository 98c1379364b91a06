"""Next assessment due and overdue ones on the worklist (schedule of assessments as trial configuration)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import services
from followup.exceptions import InvalidEntry
from followup.models import ScheduleRule
from followup.selectors import assessments_due
from screening.models import Patient
from tests.followup.factories import ORIGIN, randomized_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(data_manager):
    for from_day, interval, window in ((0, 84, 14), (1092, 182, 28)):  # example values
        services.save_schedule_rule(rule=ScheduleRule(from_day=from_day, interval_days=interval, window_days=window),
                                    user=data_manager, reason="Example")


def test_overdue_and_due_soon_on_the_worklist_and_the_schedule_freezes(client, plans, schedule, site_a,
                                                                      coordinator_a, data_manager,
                                                                      django_assert_max_num_queries):
    patient = randomized_patient(site_a, coordinator_a)
    today = timezone.localdate()
    [row] = assessments_due(Patient.objects.all(), today)
    missed = (today - ORIGIN).days // 84  # dues whose window (+14) has ended, roughly
    assert row.overdue and row.overdue[0].date == ORIGIN + dt.timedelta(days=84) and len(row.overdue) >= missed - 1
    client.force_login(coordinator_a)
    with django_assert_max_num_queries(40):
        page = client.get(reverse("home")).content.decode()
    assert 'id="assessments-due-table"' in page and patient.screening_number in page
    # recording the last due assessment clears the overdue ones before it; the schedule is then frozen
    last = row.overdue[-1]
    services.record_assessment(patient=patient, user=coordinator_a, data={"date": last.date, "progression": False})
    rows = assessments_due(Patient.objects.all(), today)
    assert all(not r.overdue or r.overdue[0].date > last.date for r in rows)
    with pytest.raises(InvalidEntry, match="frozen"):
        services.save_schedule_rule(rule=ScheduleRule(from_day=2000, interval_days=365, window_days=30),
                                    user=data_manager, reason="Later")
    services.record_death(patient=patient, user=coordinator_a, data={"date": last.date, "cause": "other"})
    assert assessments_due(Patient.objects.all(), today) == []


def test_no_schedule_nothing_due(plans, site_a, coordinator_a):
    randomized_patient(site_a, coordinator_a)
    assert assessments_due(Patient.objects.all(), timezone.localdate()) == []
