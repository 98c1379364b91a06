"""Data queries in the daily digest: the site's waiting queries, by number only, in the reader's language."""

import pytest
from django.utils import translation

from oversight import queries
from registration import reminders
from tests.registration.factories import make_plans
from tests.registration.reminder_helpers import DAY, P, evaluated, html_of, messages_to

pytestmark = pytest.mark.django_db
CLOSING_2 = P + 111 * DAY


def test_the_site_digest_names_its_waiting_queries_and_the_data_managers_the_answered(
        site_a, site_b, coordinator_a, investigator_a, coordinator_b, data_manager, mailoutbox):
    make_plans()
    investigator_a.preferred_language = "ja"
    investigator_a.save()
    patient = evaluated(site_a, coordinator_a, patient__initials="ZQ")
    evaluated(site_b, coordinator_b)
    waiting = queries.open_query(user=data_manager, patient=patient, text="ECOG?")
    answered = queries.open_query(user=data_manager, patient=patient, text="Labs?")
    queries.answer_query(user=coordinator_a, query=answered, text="Checked.")

    reminders.run_daily(today=CLOSING_2)
    [english] = messages_to(coordinator_a.email)
    [japanese] = messages_to(investigator_a.email)
    assert waiting.number in english.body and answered.number not in english.body
    assert "Data queries waiting for your answer" in english.body
    assert waiting.number in html_of(english) and "ZQ" not in english.body
    with translation.override("ja"):
        assert "回答" in japanese.body.split(waiting.number)[0].splitlines()[-2]
    [other] = messages_to(coordinator_b.email)
    assert waiting.number not in other.body  # another site's digest never names them
    sections = reminders.digest_sections(audience="data_managers", site=None, today=CLOSING_2)
    assert [answered.number in line for line in sections[0]["lines"]] == [True]


def test_a_site_with_only_a_waiting_query_still_gets_its_digest_once_a_day(
        site_a, site_b, coordinator_a, coordinator_b, data_manager, mailoutbox):
    """No window notice that day: the queries' section alone makes the digest (it used to ride only along with
    window notices, so such a site heard nothing). Once a day, whatever the number of runs."""
    from tests.registration.factories import make_eligible_screening, register

    make_plans()
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    waiting = queries.open_query(user=data_manager, patient=patient, text="ECOG?")
    today = patient.primary_registration.registration_date + 3 * DAY  # no reminder is due this day
    scanned, sent = reminders.run_daily(today=today)
    assert scanned.due == 0
    [message] = messages_to(coordinator_a.email)
    assert waiting.number in message.body and "Data queries waiting for your answer" in message.body
    assert not messages_to(coordinator_b.email)  # nothing for the other site
    reminders.run_daily(today=today)  # a second run (catch-up, redelivery): nothing new
    assert len(messages_to(coordinator_a.email)) == 1
    queries.answer_query(user=coordinator_a, query=waiting, text="Checked.")
    reminders.run_daily(today=today + DAY)
    [dm] = messages_to(data_manager.email)
    assert waiting.number in dm.body and "data centre" in dm.subject.lower()
