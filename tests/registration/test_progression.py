"""Progression at the response evaluation (issue 15): its own status and prompt the day it is entered,
and the data managers' next digest names it (it was "window missed", up to four weeks later)."""

import pytest
from django.urls import reverse

from registration import reminders, windows
from registration.models import Notice
from tests.registration.factories import record
from tests.registration.reminder_helpers import DAY, P, messages_to, registered

pytestmark = pytest.mark.django_db
EVALUATED = P + 85 * DAY


def progressed(site, user, **overrides):
    patient = registered(site, user)
    record(patient, user, EVALUATED, progression=True, overall_response="PD", courses_given=3, **overrides)
    return patient


def test_patient_page_and_worklist_prompt_off_study_with_reason_progression(plans, site_a, coordinator_a, client):
    patient = progressed(site_a, coordinator_a)
    client.force_login(coordinator_a)
    page = client.get(reverse("registration:patient", args=[patient.pk])).content.decode()
    off_study = reverse("registration:off_study", args=[patient.pk]) + "?reason=progression_before_secondary"
    assert 'status-progression' in page and 'id="progression-prompt"' in page
    assert off_study in page
    worklist = client.get(reverse("home")).content.decode()
    assert "Record off study (progression)" in worklist and off_study in worklist
    form = client.get(off_study).content.decode()
    assert '<option value="progression_before_secondary" selected>' in form


def test_the_prompt_preselects_only_known_reasons(plans, site_a, coordinator_a, client):
    patient = progressed(site_a, coordinator_a)
    client.force_login(coordinator_a)
    response = client.get(reverse("registration:off_study", args=[patient.pk]) + "?reason=<script>")
    assert response.status_code == 200 and b"&lt;script&gt;" not in response.content


def test_japanese_prompt(plans, site_a, coordinator_a, client):
    patient = progressed(site_a, coordinator_a)
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    page = client.get(reverse("registration:patient", args=[patient.pk]), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "増悪" in page


def test_data_managers_next_digest_names_progression(plans, site_a, coordinator_a, data_manager, mailoutbox):
    patient = progressed(site_a, coordinator_a)
    scanned, sent = reminders.run_daily(today=EVALUATED)
    notices = Notice.objects.filter(patient=patient, kind=windows.ReminderKind.PROGRESSION)
    assert {n.audience for n in notices} == {"site_staff", "data_managers"}
    (message,) = messages_to(data_manager.email)
    assert patient.primary_registration.number in message.body
    assert "Progression at the response evaluation" in message.body
    # Not "window missed": that notice never comes for a progression.
    assert not Notice.objects.filter(patient=patient, kind=windows.ReminderKind.WINDOW_MISSED).exists()
    reminders.run_daily(today=EVALUATED + 60 * DAY)
    assert not Notice.objects.filter(patient=patient, kind=windows.ReminderKind.WINDOW_MISSED).exists()


def test_entered_late_still_reaches_the_next_digest(plans, site_a, coordinator_a, data_manager, mailoutbox):
    patient = progressed(site_a, coordinator_a)
    reminders.run_daily(today=EVALUATED + 10 * DAY)  # the evaluation was typed in ten days after it
    assert Notice.objects.filter(patient=patient, kind=windows.ReminderKind.PROGRESSION,
                                 due_date=EVALUATED).count() == 2
    assert messages_to(data_manager.email)


def test_off_study_with_reason_progression_ends_the_prompt(plans, site_a, coordinator_a, client):
    patient = progressed(site_a, coordinator_a)
    client.force_login(coordinator_a)
    url = reverse("registration:off_study", args=[patient.pk])
    response = client.post(url, {"date": EVALUATED.isoformat(), "reason": "progression_before_secondary",
                                 "details": ""})
    assert response.status_code == 302
    page = client.get(reverse("registration:patient", args=[patient.pk])).content.decode()
    assert 'id="progression-prompt"' not in page and "status-off_study" in page
