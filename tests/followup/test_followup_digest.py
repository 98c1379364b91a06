"""Issue 16: assessments overdue or due soon, and the open survey's patients to update, in the site's daily
digest (and not in another site's)."""

import pytest

from followup import services
from followup.models import ScheduleRule
from registration import reminders
from tests.followup.factories import day, randomized_patient
from tests.registration.reminder_helpers import messages_to

pytestmark = pytest.mark.django_db


def test_overdue_assessment_and_survey_in_the_site_digest(plans, site_a, site_b, coordinator_a, coordinator_b,
                                                          data_manager, mailoutbox):
    services.save_schedule_rule(rule=ScheduleRule(from_day=0, interval_days=84, window_days=14), user=data_manager,
                                reason="test")
    patient = randomized_patient(site_a, coordinator_a)
    randomized_patient(site_b, coordinator_b)
    services.record_assessment(patient=randomized_patient(site_b, coordinator_b), user=coordinator_b,
                               data={"date": day(84), "progression": False, "progression_sites": []})
    reminders.run_daily(today=day(99))  # the first assessment's window (day 70 to 98) has ended
    [message] = messages_to(coordinator_a.email)
    assert "Follow-up assessments overdue or due soon" in message.body
    assert f"{patient.screening_number} · assessment 1 was due {day(84).isoformat()}" in message.body
    other = messages_to(coordinator_b.email)
    assert all(patient.screening_number not in m.body for m in other)

    survey = services.open_survey(cutoff_date=day(100), user=data_manager)
    reminders.run_daily(today=day(101))
    latest = messages_to(coordinator_a.email)[-1]
    assert f"Follow-up survey (cut-off {survey.cutoff_date.isoformat()}): 1 patients to update" in latest.body
    services.confirm_survey_entry(survey=survey, patient=patient, user=coordinator_a,
                                  data={"status": "alive", "last_known_alive": day(100)})
    from followup import digest

    assert digest.surveys(audience="site_staff", site=site_a, today=day(102)) is None  # complete: no reminder
