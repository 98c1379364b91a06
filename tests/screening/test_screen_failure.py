"""Issue 15: any criterion not met is a screen failure whatever else is missing (the checklist shows
both; the patient is "screen failed", so CONSORT counts a screen failure, not screening in progress)."""

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as global_apps
from django.urls import reverse

from screening import services
from screening.exceptions import ReasonRequired
from screening.models import Patient, Screening
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db
migration = importlib.import_module("screening.migrations.0004_screen_failure_whatever_is_missing")


def failing_with_a_blank(site, user):
    """The issue's patient: fails P5 and P9, one bone field blank (P8 missing)."""
    data, lesions, labs = eligible_inputs()
    lesions[0]["diameter_mm"] = Decimal("35")  # P5: over 30 mm
    lesions[0]["uncontrolled_pain"] = None  # P8: a bone field blank
    patient = services.create_patient(site=site, sex="female", birth_date=dt.date(1940, 1, 1), user=user)  # P9
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user)
    return patient, screening


def test_failed_and_missing_is_a_screen_failure(site_a, coordinator_a):
    patient, screening = failing_with_a_blank(site_a, coordinator_a)
    assert screening.verdict["failed"] == ["P5", "P9"] and screening.verdict["missing"] == ["P8"]
    assert screening.outcome == Screening.Outcome.NOT_ELIGIBLE
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.SCREEN_FAILED


def test_missing_alone_stays_a_draft(site_a, coordinator_a):
    data, lesions, _labs = eligible_inputs()
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=None, user=coordinator_a)
    assert screening.outcome == Screening.Outcome.DRAFT


def test_completing_the_missing_facts_of_a_screen_failure_needs_no_reason(site_a, coordinator_a):
    patient, screening = failing_with_a_blank(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    lesions[0]["diameter_mm"] = Decimal("35")
    ids = [lesion.pk for lesion in screening.lesions.all()]
    rows = [{**lesion, "id": pk} for lesion, pk in zip(lesions, ids, strict=True)]
    done = services.save_screening(patient=patient, screening=screening, data=data, lesions=rows, labs=labs,
                                   user=coordinator_a)
    assert done.verdict["missing"] == [] and done.outcome == Screening.Outcome.NOT_ELIGIBLE
    # Now complete: any change needs a reason.
    with pytest.raises(ReasonRequired):
        services.save_screening(patient=patient, screening=done, data={**data, "ecog": 1}, lesions=rows, labs=labs,
                                user=coordinator_a)


def test_checklist_shows_failed_and_missing(site_a, coordinator_a, client):
    patient, screening = failing_with_a_blank(site_a, coordinator_a)
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    assert 'id="verdict-summary"' in page and "Not eligible (screen failure)" in page
    assert "P5, P9" in page and "Still missing" in page and "P8" in page
    assert "Not yet eligible" not in page


def test_migration_reclassifies_stored_drafts_that_already_fail(site_a, coordinator_a):
    patient, screening = failing_with_a_blank(site_a, coordinator_a)
    # As round 1 stored it: a draft, the patient "screening".
    Screening.objects.filter(pk=screening.pk).update(outcome="draft")
    Patient.objects.filter(pk=patient.pk).update(stage="screening")
    draft_patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15),
                                            user=coordinator_a)
    data, lesions, _labs = eligible_inputs()
    draft = services.save_screening(patient=draft_patient, data=data, lesions=lesions, labs=None, user=coordinator_a)
    migration.reclassify(global_apps, None)
    screening.refresh_from_db()
    assert screening.outcome == "not_eligible" and screening.verdict["failed"] == ["P5", "P9"]
    assert Patient.objects.get(pk=patient.pk).stage == "screen_failed"
    assert screening.history.order_by("-history_id").first().history_change_reason == migration.REASON
    assert Patient.history.filter(id=patient.pk).order_by("-history_id").first().history_change_reason == \
        migration.REASON
    draft.refresh_from_db()
    assert draft.outcome == "draft"
    assert Patient.objects.get(pk=draft_patient.pk).stage == "screening"


def test_eligible_checklist_offers_primary_registration_to_signers_only(site_a, coordinator_a, investigator_a,
                                                                        monitor_a, client):
    data, lesions, labs = eligible_inputs()
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    url = reverse("screening:checklist", args=[screening.pk])
    register = reverse("registration:primary", args=[patient.pk])
    for user, offered in ((investigator_a, True), (monitor_a, False)):
        client.force_login(user)
        page = client.get(url).content.decode()
        assert ('id="register-primary"' in page and register in page) is offered, user


def test_no_lesions_entered_yet_is_a_draft_not_a_screen_failure(site_a, coordinator_a):
    data, _lesions, labs = eligible_inputs()
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    draft = services.save_screening(patient=patient, data={**data, "ecog": None}, lesions=[], labs=labs,
                                    user=coordinator_a)
    assert draft.verdict["failed"] == ["P5"] and draft.verdict["missing"] == ["P10"]
    assert draft.outcome == Screening.Outcome.DRAFT
    # Everything else recorded and still no lesion: a screen failure (P5 needs 1 to 3).
    done = services.save_screening(patient=patient, screening=draft, data=data, lesions=[], labs=labs,
                                   user=coordinator_a)
    assert done.outcome == Screening.Outcome.NOT_ELIGIBLE
