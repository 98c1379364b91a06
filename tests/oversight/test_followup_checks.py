"""The automatic checks on follow-up data (issue 19): MDT late in arm B, assessment overdue, survey incomplete
at its cut-off, F5 contradictions. Each finds what it should, opens one query per finding, and a re-run
(or a closed query) opens nothing again; each runs a bounded number of queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from followup import services
from followup.models import Assessment, Death, ScheduleRule
from oversight import checks
from oversight.models import DataQuery
from tests.followup.factories import ORIGIN, day, randomized_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(db):
    from tests.registration.factories import make_plans

    return make_plans()


@pytest.fixture(autouse=True)
def _randomization_set_up(db):
    """Secondary registration randomizes at once: the default set-up."""
    from tests.randomization.factories import minimization_config

    return minimization_config()


def settings_with(user, mdt_days):
    services.save_followup_settings(status_unknown_days=180, mdt_start_days=mdt_days, user=user, reason="test")


def mdt(patient, user, start):
    lesion = services.remaining_lesions(patient)[0]
    services.record_mdt(patient=patient, user=user, data={
        "lesion": lesion.pk, "modality": "sbrt", "start_date": start, "end_date": start + dt.timedelta(days=4),
        "dose_gy": Decimal("35"), "fractions": 5, "completed_as_planned": True})


def found(code, today):
    return {(f.patient_id, f.key) for f in checks.BY_CODE[code].find(today)}


def test_mdt_late_boundaries_and_no_setting_no_check(plans, site_a, coordinator_a, data_manager):
    late = randomized_patient(site_a, coordinator_a, arm="B")
    on_time = randomized_patient(site_a, coordinator_a, arm="B")
    arm_a = randomized_patient(site_a, coordinator_a, arm="A")
    mdt(on_time, coordinator_a, day(42))  # on the last allowed day
    deadline = day(42)
    assert found("mdt_late", deadline + dt.timedelta(days=30)) == set()  # no setting: the check does not run
    settings_with(data_manager, 42)
    assert found("mdt_late", deadline) == set()  # the deadline day itself: not yet late
    assert found("mdt_late", deadline + dt.timedelta(days=1)) == {(late.pk, f"deadline:{deadline.isoformat()}")}
    assert arm_a.pk not in {p for p, _k in found("mdt_late", deadline + dt.timedelta(days=1))}
    # Started one day late: still found (the question names the start), same key, so no second query.
    mdt(late, coordinator_a, day(43))
    assert found("mdt_late", day(60)) == {(late.pk, f"deadline:{deadline.isoformat()}")}


def test_mdt_late_is_suggested_as_a_treatment_deviation(plans, site_a, site_b, coordinator_a, data_manager):
    import time_machine

    from oversight import deviations

    late = randomized_patient(site_a, coordinator_a, arm="B")
    settings_with(data_manager, 42)
    with time_machine.travel(dt.datetime.combine(day(50), dt.time(3, 0), tzinfo=dt.UTC), tick=False):
        suggested = [s for s in deviations.suggestions(site_ids=None) if s.rule == "mdt_late"]
        assert [(s.patient_id, s.category, s.date) for s in suggested] == [(late.pk, "treatment", day(42))]
        assert not [s for s in deviations.suggestions(site_ids={site_b.pk}) if s.rule == "mdt_late"]


def test_mdt_late_not_when_the_patient_died_first(plans, site_a, coordinator_a, data_manager):
    patient = randomized_patient(site_a, coordinator_a, arm="B")
    settings_with(data_manager, 42)
    services.record_death(patient=patient, user=coordinator_a, data={"date": day(20), "cause": "other"})
    assert found("mdt_late", day(60)) == set()


def test_assessment_overdue_after_its_window(plans, site_a, coordinator_a, data_manager):
    services.save_schedule_rule(rule=ScheduleRule(from_day=0, interval_days=84, window_days=14), user=data_manager,
                                reason="test")
    patient = randomized_patient(site_a, coordinator_a)
    done = randomized_patient(site_a, coordinator_a)
    services.record_assessment(patient=done, user=coordinator_a,
                               data={"date": day(90), "progression": False, "progression_sites": []})
    assert found("assessment_overdue", day(98)) == set()  # the window's last day
    assert found("assessment_overdue", day(99)) == {(patient.pk, f"assessment:1:{day(84).isoformat()}")}


def test_survey_incomplete_once_closed(plans, site_a, coordinator_a, data_manager):
    confirmed = randomized_patient(site_a, coordinator_a)
    missing = randomized_patient(site_a, coordinator_a)
    survey = services.open_survey(cutoff_date=day(185), user=data_manager)
    services.confirm_survey_entry(survey=survey, patient=confirmed, user=coordinator_a,
                                  data={"status": "alive", "last_known_alive": day(180)})
    assert found("survey_incomplete", day(200)) == set()  # still open: the sites are working on it
    services.close_survey(survey=survey, user=data_manager)
    assert found("survey_incomplete", day(200)) == {(missing.pk, f"survey:{survey.pk}")}


def test_f5_contradiction_opens_a_query_on_the_death_and_not_again(plans, site_a, coordinator_a, data_manager):
    patient = randomized_patient(site_a, coordinator_a)
    clean = randomized_patient(site_a, coordinator_a)
    services.record_death(patient=clean, user=coordinator_a, data={"date": day(100), "cause": "other"})
    services.record_assessment(patient=patient, user=coordinator_a,
                               data={"date": day(120), "progression": True, "progression_sites": ["new_organ"]})
    # The services refuse a death before a later assessment; a corrected date (or an import) can still
    # leave one behind, which is what F5 is for.
    death = Death.objects.create(patient=patient, date=day(110), cause="other")
    assert Assessment.objects.filter(patient=patient).count() == 1
    assert found("endpoint_contradiction", day(200)) == {(patient.pk, "f5:alive_after_death"),
                                                         (patient.pk, "f5:progression_after_death")}
    counts = checks.run(today=day(200))
    assert counts["endpoint_contradiction"] == {"found": 2, "created": 2}
    query = DataQuery.objects.get(rule="endpoint_contradiction", finding="f5:progression_after_death")
    assert (query.record_type, query.record_id) == ("death", death.pk)
    assert "progression is recorded after the death" in query.text
    DataQuery.objects.filter(rule="endpoint_contradiction").update(status="closed")  # accepted
    assert checks.run(today=day(201))["endpoint_contradiction"] == {"found": 2, "created": 0}


def test_the_follow_up_checks_run_a_bounded_number_of_queries(plans, site_a, coordinator_a, data_manager):
    services.save_schedule_rule(rule=ScheduleRule(from_day=0, interval_days=84, window_days=14), user=data_manager,
                                reason="test")
    settings_with(data_manager, 42)

    def count_queries(n_patients):
        while DataQuery.objects.values("patient").distinct().count() < n_patients:
            randomized_patient(site_a, coordinator_a, arm="B")
            checks.run(today=day(200))
        with CaptureQueriesContext(connection) as captured:
            for code in ("mdt_late", "assessment_overdue", "survey_incomplete", "endpoint_contradiction"):
                list(checks.BY_CODE[code].find(day(200)))
        return len(captured)

    assert count_queries(1) == count_queries(4)


def test_questions_in_japanese(plans, site_a, coordinator_a, data_manager):
    from django.utils import translation

    with translation.override("ja"):
        text = checks.describe("mdt_late", {"randomized": ORIGIN.isoformat(), "days": 42,
                                            "deadline": day(42).isoformat(), "started": "-"})
    assert "42" in text and text != checks.describe("mdt_late", {"randomized": ORIGIN.isoformat(), "days": 42,
                                                                "deadline": day(42).isoformat(), "started": "-"})
