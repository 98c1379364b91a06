"""Every audited model: an edit through its page, service or the admin leaves a history row with the user,
the time, the old and new value and the reason (read back through the audit trail selector); an edit
without a reason is refused and changes nothing; write-once records cannot be edited at all."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from oligami_site.models import Membership, Signature, SignatureFailure, Site
from oversight.trail import trail_for
from randomization.models import Allocation, RandomizationConfig
from registration import services as registration_services
from registration.exceptions import InvalidEntry
from registration.models import (
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)
from screening import services
from screening.exceptions import ReasonRequired
from screening.models import LabPanel, Lesion, Patient, Screening
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register
from tests.screening.factories import eligible_inputs, post_data

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def plans(db):
    return make_plans()


def _entries(patient, record_type, field_label):
    """(entry, change) of the patient's trail where `field_label` changed, newest last."""
    return [(e, c) for e in trail_for(patient, record_type=record_type).entries for c in e.changes
            if c.field == field_label and e.kind == "~"]


def _assert_history(history_row, user, reason, since):
    assert history_row.history_user == user
    assert history_row.history_change_reason == reason
    assert since <= history_row.history_date <= timezone.now()


@pytest.fixture
def screened_a(site_a, coordinator_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    return services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)


# --- screening facts, lesions and lab panels: the screening form -----------------------------------


def test_creatinine_corrected_on_the_screening_page_is_in_the_trail(client, screened_a, coordinator_a):
    since = timezone.now()
    data, lesions, labs = eligible_inputs()
    lesions = [{"id": lesion.pk, **spec} for lesion, spec in zip(screened_a.lesions.all(), lesions, strict=True)]
    labs = {**labs, "creatinine": Decimal("1.20")}
    client.force_login(coordinator_a)
    url = reverse("screening:screening_edit", args=[screened_a.pk])

    # Without a reason: refused, nothing saved.
    response = client.post(url, post_data(data, lesions, labs, initial_forms=2))
    assert response.status_code == 200 and "Give a reason for the change" in response.content.decode()
    assert LabPanel.objects.get(pk=screened_a.labs_id).creatinine == Decimal("0.70")

    response = client.post(url, post_data(data, lesions, labs, initial_forms=2, reason="Lab re-reported: typo"))
    assert response.status_code == 302
    panel = LabPanel.objects.get(pk=screened_a.labs_id)
    assert panel.creatinine == Decimal("1.20")
    _assert_history(panel.history.first(), coordinator_a, "Lab re-reported: typo", since)
    [(entry, change)] = _entries(screened_a.patient, "labpanel", "creatinine (mg/dL)")
    assert (change.old, change.new) == ("0.70", "1.20")
    assert entry.reason == "Lab re-reported: typo" and "crc_a" in entry.user


def test_screening_and_lesion_changes_need_a_reason_in_the_service(screened_a, coordinator_a):
    since = timezone.now()
    data, lesions, labs = eligible_inputs()
    existing = list(screened_a.lesions.all())
    lesions = [{"id": lesion.pk, **spec} for lesion, spec in zip(existing, lesions, strict=True)]
    lesions[0]["diameter_mm"] = Decimal("25")
    data["ecog"] = 1
    with pytest.raises(ReasonRequired):
        services.save_screening(patient=screened_a.patient, screening=screened_a, data=data, lesions=lesions,
                                labs=labs, user=coordinator_a)
    assert Lesion.objects.get(pk=existing[0].pk).diameter_mm == Decimal("18")

    services.save_screening(patient=screened_a.patient, screening=screened_a, data=data, lesions=lesions,
                            labs=labs, user=coordinator_a, reason="CT re-read by radiologist")
    _assert_history(Screening.objects.get(pk=screened_a.pk).history.first(), coordinator_a,
                    "CT re-read by radiologist", since)
    _assert_history(Lesion.objects.get(pk=existing[0].pk).history.first(), coordinator_a,
                    "CT re-read by radiologist", since)
    [(_e, ecog)] = _entries(screened_a.patient, "screening", "ECOG performance status")
    assert (ecog.old, ecog.new) == ("0", "1")
    [(_e, diameter)] = _entries(screened_a.patient, "lesion", "maximum diameter (mm)")
    assert (diameter.old, diameter.new) == ("18.0", "25.0")


def test_patient_stage_moves_carry_user_and_reason(screened_a, coordinator_a):
    rows = list(Patient.history.filter(id=screened_a.patient_id).order_by("history_date"))
    assert [r.stage for r in rows] == ["screening", "eligible"]
    assert all(r.history_user == coordinator_a and r.history_change_reason for r in rows)
    [(_e, stage)] = _entries(screened_a.patient, "patient", "stage")
    assert stage.new == "Eligible, awaiting primary registration"  # the choice label, not the code


# --- registration records ----------------------------------------------------------------------------


@pytest.fixture
def evaluated_a(plans, coordinator_a, site_a):
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    return Patient.objects.get(pk=patient.pk)


def _evaluation_form(today, **overrides):
    form = {"date": (today - 2 * DAY).isoformat(), "overall_response": "PR", "progression": "no",
            "new_distant_metastasis": "no", "remaining_lesions": "2", "mdt_since_primary": "no",
            "ecog": "0", "labs-date": (today - 2 * DAY).isoformat(), "labs-anc": "3000", "labs-hemoglobin": "12.0",
            "labs-platelets": "220000", "labs-bilirubin": "0.6", "labs-ast": "20", "labs-alt": "20",
            "labs-creatinine": "0.80"}
    form.update(overrides)
    return form


def test_evaluation_corrected_on_its_page_with_a_reason_only(client, evaluated_a, coordinator_a):
    since = timezone.now()
    today = timezone.localdate()
    client.force_login(coordinator_a)
    url = reverse("registration:evaluation", args=[evaluated_a.pk])
    response = client.post(url, _evaluation_form(today, overall_response="SD", **{"labs-creatinine": "1.10"}))
    assert response.status_code == 200
    evaluation = ResponseEvaluation.objects.select_related("labs").get(patient=evaluated_a)
    assert evaluation.overall_response == "PR" and evaluation.labs.creatinine == Decimal("0.80")

    response = client.post(url, _evaluation_form(today, overall_response="SD", reason="Source document verified",
                                                 **{"labs-creatinine": "1.10"}))
    assert response.status_code == 302
    evaluation = ResponseEvaluation.objects.select_related("labs").get(patient=evaluated_a)
    _assert_history(evaluation.history.first(), coordinator_a, "Source document verified", since)
    _assert_history(evaluation.labs.history.first(), coordinator_a, "Source document verified", since)
    [(_e, response_change)] = _entries(evaluated_a, "evaluation", "overall response")
    assert (response_change.old, response_change.new) == ("PR (partial response)", "SD (stable disease)")
    [(_e, creatinine)] = _entries(evaluated_a, "labpanel", "creatinine (mg/dL)")
    assert (creatinine.old, creatinine.new) == ("0.80", "1.10")


def test_evaluation_service_refuses_a_change_without_reason(evaluated_a, coordinator_a):
    with pytest.raises(InvalidEntry) as refused:
        record(evaluated_a, coordinator_a, timezone.localdate() - DAY, courses_given=3)
    assert refused.value.code == "reason_required"


def test_write_once_records_carry_user_and_reason_and_cannot_be_edited(client, plans, coordinator_a, site_a,
                                                                        superuser):
    minimization_config()
    since = timezone.now()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    off = register(make_eligible_screening(site=site_a, on=today - 20 * DAY), coordinator_a).patient
    registration_services.take_off_study(patient=off, user=coordinator_a, date=today, reason="withdrawal")
    with pytest.raises(Exception):  # noqa: B017 (a wrong signature password is refused, and counted)
        registration_services.register_primary(screening=make_eligible_screening(site=site_a, on=today),
                                               user=coordinator_a, password="wrong")
    records = [PrimaryRegistration.objects.get(patient=patient), SecondaryRegistration.objects.get(patient=patient),
               Allocation.objects.get(patient=patient), OffStudy.objects.get(patient=off),
               SignatureFailure.objects.get(), *Signature.objects.all()]
    for obj in records:
        [row] = obj.history.all()
        assert row.history_type == "+" and row.history_user == coordinator_a and row.history_change_reason
        assert since <= row.history_date
    client.force_login(superuser)
    for obj in records:
        opts = obj._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert client.post(url, {"change_reason": "try"}).status_code == 403, url
        assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])).status_code \
            == 403


# --- configuration, in the admin -----------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_site_edited_in_the_admin_needs_a_reason(client, data_manager, site_a):
    since = timezone.now()
    client.force_login(data_manager)
    url = reverse("admin:oligami_site_site_change", args=[site_a.pk])
    post = {"code": "SITEA", "name_en": "Site A University Hospital", "name_ja": "Aサイト病院", "active": "on"}
    response = client.post(url, post)
    assert response.status_code == 200 and "Give a reason for the change" in response.content.decode()
    assert Site.objects.get(pk=site_a.pk).name_en == "Site A Hospital"
    response = client.post(url, {**post, "change_reason": "Renamed by the hospital (letter 2026-11-01)"})
    assert response.status_code == 302
    row = Site.objects.get(pk=site_a.pk).history.first()
    _assert_history(row, data_manager, "Renamed by the hospital (letter 2026-11-01)", since)
    assert row.prev_record.name_en == "Site A Hospital" and row.name_en == "Site A University Hospital"


def test_membership_edited_in_the_admin_needs_a_reason(client, superuser, site_a, coordinator_a):
    """Roles are the trial administrator's to grant (issue 13: data managers read memberships only)."""
    since = timezone.now()
    membership = Membership.objects.get(user=coordinator_a)
    client.force_login(superuser)
    url = reverse("admin:oligami_site_membership_change", args=[membership.pk])
    post = {"user": coordinator_a.pk, "site": site_a.pk, "role": "investigator", "active": "on"}
    assert client.post(url, post).status_code == 200
    assert Membership.objects.get(pk=membership.pk).role == "coordinator"
    assert client.post(url, {**post, "change_reason": "Now the site investigator"}).status_code == 302
    row = Membership.objects.get(pk=membership.pk).history.first()
    _assert_history(row, superuser, "Now the site investigator", since)
    assert (row.prev_record.role, row.role) == ("coordinator", "investigator")


def test_therapy_plan_edited_in_the_admin_needs_a_reason(client, plans, data_manager):
    since = timezone.now()
    old = plans["tnbc"]
    client.force_login(data_manager)
    url = reverse("admin:registration_therapyplan_change", args=[old.pk])
    post = {"regimen": "Amended regimen", "planned_courses": 6, "cycle_length_days": 21, "effective_from": "2026-12-01"}
    assert client.post(url, post).status_code == 200
    assert not TherapyPlan.objects.filter(subtype="tnbc", version=2).exists()
    assert client.post(url, {**post, "change_reason": "Protocol amendment 3"}).status_code == 302
    new = TherapyPlan.objects.get(subtype="tnbc", version=2)
    _assert_history(new.history.get(), data_manager, "Protocol amendment 3", since)


def test_randomization_set_up_edited_in_the_admin_needs_a_reason(client, statistician):
    config = minimization_config(statistician)
    since = timezone.now()
    client.force_login(statistician)
    url = reverse("admin:randomization_randomizationconfig_change", args=[config.pk])
    post = {"method": config.method, "factors": config.factors, "weights": '{"site": 1, "subtype": 1, "lesions": 1}',
            "p": "0.75", "block_sizes": "4,6", "slots_per_stratum": "340", "_save": "Save"}
    assert client.post(url, post).status_code == 200
    assert RandomizationConfig.objects.get(pk=config.pk).p == 0.8
    assert client.post(url, {**post, "change_reason": "SAP v1.1: p = 0.75"}).status_code == 302
    row = RandomizationConfig.objects.get(pk=config.pk).history.first()
    _assert_history(row, statistician, "SAP v1.1: p = 0.75", since)
    assert (row.prev_record.p, row.p) == (0.8, 0.75)


def test_a_staff_site_user_cannot_edit_clinical_records_in_the_admin(client, screened_a, site_a):
    staff = UserFactory(username="crc_staff", is_staff=True)
    MembershipFactory(user=staff, site=site_a, role="coordinator")
    client.force_login(staff)
    url = reverse("admin:screening_labpanel_change", args=[screened_a.labs_id])
    assert client.post(url, {"creatinine": "9.99", "change_reason": "x"}).status_code == 403
    assert LabPanel.objects.get(pk=screened_a.labs_id).creatinine == Decimal("0.70")


def test_first_entries_need_no_reason_and_are_named(screened_a):
    assert screened_a.history.get().history_change_reason == "Screening entered"
    assert screened_a.screening_date == JUDGED_ON
