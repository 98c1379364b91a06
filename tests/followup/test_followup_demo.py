"""The follow-up demo data: every follow-up page has something to show, and a second run creates nothing."""

import io

import pytest
from django.core.management import call_command

from followup.models import (
    Assessment,
    Contamination,
    Death,
    FollowupSurvey,
    MetastasisDirectedTherapy,
    SurveyEntry,
    SystemicCourse,
    Withdrawal,
)
from followup.selectors import survival_data
from screening.models import Patient

pytestmark = pytest.mark.django_db


def counts():
    return [m.objects.count() for m in (SystemicCourse, MetastasisDirectedTherapy, Contamination, Assessment, Death,
                                        Withdrawal, FollowupSurvey, SurveyEntry)]


def test_demo_has_courses_mdt_assessments_a_death_a_withdrawal_and_an_open_survey(settings):
    settings.OLIGAMI_DEMO_PASSWORD = "demo-password-for-tests"
    call_command("seed_demo", stdout=io.StringIO())
    courses, mdt, _contamination, assessments, deaths, withdrawals, surveys, entries = first = counts()
    assert courses and mdt and assessments and entries
    assert deaths == withdrawals == surveys == 1
    assert FollowupSurvey.objects.get().is_open
    assert Assessment.objects.filter(progression=True).exists()
    data = survival_data(Patient.objects.all(), by_arm=False)
    assert data.unknown == 0 and sum(e for _d, e in data.os["all"]) == 1
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == first
