"""The follow-up selectors read each randomized patient's facts through subqueries of the caller's scope (issue
21, second round): the same results as the former implementation (tests/followup/reference_selectors.py, with
a `patient_id IN (ids)` list per table) on generated trials, and the same SQL whatever the number of patients.
The re-consent list (screening.consents.awaiting_reconsent) is compared with its former implementation too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup import endpoints, reconsent
from followup import selectors as new
from followup import services as followup_services
from followup.models import (
    Assessment,
    Contamination,
    Death,
    FollowupSettings,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    SurveyEntry,
    Withdrawal,
)
from oversight import checks
from screening import consents
from screening.models import Patient, Reconsent
from tests.factories import initial_consent_version
from tests.registration.factories import make_eligible_screening

from . import reference_selectors as old
from .factories import ORIGIN, day, randomized_patient

pytestmark = pytest.mark.django_db


def _maybe_date(rng, low, high, probability):
    return day(rng.randint(low, high)) if rng.random() < probability else None


def add_facts(patients, user, seed):
    """Random follow-up facts written as rows (test set-up: the services would refuse the contradictions F3-F5
    are about): assessments before and after the origin, dates known alive, deaths before the origin or
    followed by assessments, each kind of withdrawal, lost to follow-up, MDT and contamination."""
    rng = random.Random(seed)
    now = timezone.now()
    for patient in patients:
        for _ in range(rng.randint(0, 5)):
            Assessment.objects.create(patient=patient, date=day(rng.randint(-20, 400)), progression=rng.random() < .3)
        for _ in range(rng.randint(0, 3)):
            LastKnownAlive.objects.create(patient=patient, date=day(rng.randint(-10, 450)))
        died = _maybe_date(rng, -5, 420, .35)
        if died:
            Death.objects.create(patient=patient, date=died, cause=rng.choice(endpoints.DEATH_CAUSES))
        withdrew = _maybe_date(rng, 0, 400, .3)
        if withdrew:
            Withdrawal.objects.create(patient=patient, date=withdrew, kind=rng.choice(endpoints.WITHDRAWAL_KINDS))
        if rng.random() < .15:
            LostToFollowUp.objects.create(patient=patient, confirmed_at=now, confirmed_by=user)
        if rng.random() < .3:
            Contamination.objects.create(patient=patient, date=day(rng.randint(1, 200)), modality="surgery",
                                         reason="Test")
        if rng.random() < .4:
            MetastasisDirectedTherapy.objects.create(patient=patient, lesion=followup_services.remaining_lesions(
                patient)[0], modality="surgery", start_date=day(rng.randint(1, 90)))


def normalized(followups: dict) -> dict:
    """Neither implementation orders a patient's assessments (nothing reads their order)."""
    return {pid: dataclasses.replace(f, facts=dataclasses.replace(f.facts, assessments=tuple(sorted(
        f.facts.assessments, key=lambda a: (a.date, a.progression))))) for pid, f in followups.items()}


@pytest.fixture
def trial(plans, site_a, site_b, coordinator_a, coordinator_b, data_manager):
    FollowupSettings.objects.create(status_unknown_days=180)
    patients = [randomized_patient(site, user, arm=arm) for site, user in
                ((site_a, coordinator_a), (site_b, coordinator_b)) for arm in ("A", "B", "A", "B")]
    make_eligible_screening(site=site_a)  # screened, never randomized: in no result
    survey = followup_services.open_survey(cutoff_date=day(180), user=data_manager)
    return {"patients": patients, "survey": survey, "sites": (site_a, site_b), "user": data_manager}


def compare_everything(trial):
    survey = trial["survey"]
    scopes = [Patient.objects.all(), Patient.objects.filter(site_id__in={trial["sites"][0].pk}),
              Patient.objects.filter(death__isnull=False)]
    for patients in scopes:
        assert normalized(new.followup_for(patients)) == normalized(old.followup_for(old.origins_of(patients)))
        assert new.survey_rows(survey, patients) == old.survey_rows(survey, patients)
        for cutoff in (day(-1), day(0), day(100), day(200), day(500)):
            def by_patient(rows):
                return sorted(rows, key=lambda r: r.patient_id)
            assert by_patient(new.status_as_of(patients, cutoff)) == by_patient(old.status_as_of(patients, cutoff))
        for by_arm in (True, False):
            assert new.survival_data(patients, by_arm=by_arm) == old.survival_data(patients, by_arm=by_arm)
        assert new.after_randomization(patients) == old.after_randomization(patients)
    one = trial["patients"][0]
    assert normalized({one.pk: new.followup_of(one)}) == normalized(
        old.followup_for(old.origins_of(Patient.objects.filter(pk=one.pk))))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_results_as_the_former_selectors_on_generated_trials(trial, seed):
    add_facts(trial["patients"], trial["user"], seed)
    rng = random.Random(seed)
    for patient in trial["patients"]:  # some sites confirmed their patients for the survey
        if rng.random() < .4:
            SurveyEntry.objects.create(survey=trial["survey"], patient=patient, status=rng.choice(("alive", "dead")),
                                       last_known_alive=day(rng.randint(100, 200)), confirmed_at=timezone.now(),
                                       confirmed_by=trial["user"])
    compare_everything(trial)
    assert Death.objects.exists() and Withdrawal.objects.exists() and Assessment.objects.exists()


def test_the_same_results_without_any_follow_up_yet(trial):
    compare_everything(trial)
    assert new.followup_for(Patient.objects.filter(stage=Patient.Stage.SCREENING)) == {}


def test_the_f5_check_finds_the_same_contradictions(trial):
    add_facts(trial["patients"], trial["user"], 1)
    found = sorted((f.patient_id, f.key, f.record_id) for f in checks.BY_CODE["endpoint_contradiction"].find(ORIGIN))
    expected = []
    for pid, followup in old.followup_for(old.origins_of(Patient.objects.filter(death__isnull=False))).items():
        for code in endpoints.contradictions(endpoints.usable_facts(followup.facts)):
            expected.append((pid, f"f5:{code}", Death.objects.get(patient_id=pid).pk))
    assert found == sorted(expected) and found


def follow_up_sql(run) -> list[str]:
    """The SQL of a call, as sent (parameters in place)."""
    with CaptureQueriesContext(connection) as ctx:
        run()
    return [q["sql"] for q in ctx.captured_queries]


def test_the_sql_is_the_same_whatever_the_number_of_patients(trial, site_a, coordinator_a):
    """No list of patient ids in any query: the statements at 8 and at 12 randomized patients (more facts
    too) are the same text, so the same number of queries and nothing that grows with the trial."""
    survey = trial["survey"]
    calls = {
        "followup_for": lambda: new.followup_for(Patient.objects.all()),
        "survey_rows": lambda: new.survey_rows(survey, Patient.objects.all()),
        "status_as_of": lambda: new.status_as_of(Patient.objects.all(), day(100)),
        "survival_data": lambda: new.survival_data(Patient.objects.all(), by_arm=True),
        "after_randomization": lambda: new.after_randomization(Patient.objects.all()),
    }
    add_facts(trial["patients"], trial["user"], 5)
    before = {name: follow_up_sql(call) for name, call in calls.items()}
    more = [randomized_patient(site_a, coordinator_a, arm=arm) for arm in ("A", "B", "A", "B")]
    add_facts(more, trial["user"], 6)
    after = {name: follow_up_sql(call) for name, call in calls.items()}
    assert after == before
    assert len(before["followup_for"]) == 2 and len(before["survey_rows"]) == 3  # patients, assessments (+ setting)


def test_the_reconsent_list_is_the_former_one(plans, site_a, site_b, coordinator_a, coordinator_b, data_manager):
    initial_consent_version()
    patients = [randomized_patient(site, user) for site, user in
                ((site_a, coordinator_a), (site_b, coordinator_b), (site_a, coordinator_a), (site_b, coordinator_b))]
    make_eligible_screening(site=site_a)  # not asked (not registered)
    v2 = consents.add_version(version="2.0", effective_date=dt.date(2026, 6, 1), user=data_manager, reason="Revised")
    Reconsent.objects.create(patient=patients[0], document=v2, date=dt.date(2026, 6, 10))  # re-consented
    Withdrawal.objects.create(patient=patients[1], date=day(10), kind="visits")  # no longer asked
    Death.objects.create(patient=patients[2], date=day(20), cause="other")  # no longer asked

    def rows(function, patients, today):
        return [(p.pk, d.pk if d else None, on) for p, d, on in function(reconsent.candidates(patients), today)]

    for today in (dt.date(2026, 5, 31), dt.date(2026, 6, 1), timezone.localdate()):
        for scope in (Patient.objects.all(), Patient.objects.filter(site=site_a)):
            assert rows(consents.awaiting_reconsent, scope, today) == rows(old.awaiting_reconsent, scope, today)
    assert [p for p, _d, _on in rows(consents.awaiting_reconsent, Patient.objects.all(), timezone.localdate())] == [
        patients[3].pk]
