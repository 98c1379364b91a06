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
