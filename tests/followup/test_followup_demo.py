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
from registration import demo as registration_demo
from registration import services as registration_services
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
    # Issue 16: the registration demo's patients have their courses recorded, S1 holds for the evaluated ones,
    # and the one meant to be randomized today was secondary registered on its recorded courses.
    for spec in registration_demo.DEMO_PATIENTS:
        patient = Patient.objects.get(site__code=spec[0], initials=spec[1])
        if spec[7] is None:
            assert SystemicCourse.objects.filter(patient=patient).exists(), spec
        if spec[5] is not None and patient.stage == Patient.Stage.REGISTERED:
            evaluation = patient.response_evaluation
            primary = patient.primary_registration
            verdict = registration_services.secondary_checklist(primary, evaluation, evaluation.date)
            assert verdict.criterion("S1").status == "met", spec
        if spec[6]:
            assert patient.stage == Patient.Stage.RANDOMIZED, spec
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == first
