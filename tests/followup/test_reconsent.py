"""Consent document versions and re-consent (issue 17): the data centre's versions, who must re-consent,
recording it, the worklist and the digest."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import reconsent
from followup import services as followup_services
from oligami_site import sites
from registration.models import Audience
from screening import consents
from screening.consents import ConsentError
from screening.models import ConsentDocument, Patient, Reconsent, Screening
from tests.factories import initial_consent_version
from tests.registration.factories import make_eligible_screening, register

from .factories import day, randomized_patient

V2_ON = dt.date(2026, 6, 1)  # after the test patients' consent (2026-02-20), before today


@pytest.fixture
def v1(db):
    return initial_consent_version()


@pytest.fixture
def v2(v1, data_manager):
    return consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason="Revised")


def awaiting_numbers(today=None):
    today = today or timezone.localdate()
    rows = [(row.patient.screening_number, row.version, row.consented_on) for row in
            reconsent.awaiting(Patient.objects.all(), today)]
    # the worklist's count and first rows, chosen in the database (issue 21): the same patients and consents
    for limit in (1, 1000):
        total, first = consents.awaiting_reconsent_first(reconsent.candidates(Patient.objects.all()), today, limit)
        assert (total, [(p.screening_number, version, on) for p, version, on in first]) == (len(rows), rows[:limit])
    return [number for number, _version, _on in rows]


# --- the data centre's versions ---------------------------------------------------------------------------


def test_a_new_version_supersedes_the_latest_on_its_effective_date(v1, v2, data_manager):
    v1.refresh_from_db()
    assert (v1.superseded_date, v2.superseded_date) == (V2_ON, None)
    assert consents.version_on(V2_ON - dt.timedelta(days=1)) == v1 and consents.version_on(V2_ON) == v2
    latest = v2.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (data_manager, "Revised")


@pytest.mark.parametrize(("version", "effective", "code"), [
    ("1.0", dt.date(2026, 7, 1), "duplicate"),
    ("3.0", V2_ON, "order"),  # not after the latest version's effective date
    ("3.0", V2_ON - dt.timedelta(days=1), "order"),
    ("", dt.date(2026, 7, 1), "required"),
    ("x" * 21, dt.date(2026, 7, 1), "invalid"),
    ("3.0", dt.date(1999, 12, 31), "invalid"),
    ("3.0", None, "required"),
])
def test_bad_versions_are_refused_and_nothing_changes(v2, data_manager, version, effective, code):
    with pytest.raises(ConsentError) as refused:
        consents.add_version(version=version, effective_date=effective, user=data_manager, reason="Revised")
    assert refused.value.code == code
    assert ConsentDocument.objects.count() == 2 and ConsentDocument.objects.get(pk=v2.pk).superseded_date is None


def test_only_the_data_centre_adds_versions_with_a_reason(v1, coordinator_a, data_manager):
    with pytest.raises(ConsentError, match="Only the data centre"):
        consents.add_version(version="2.0", effective_date=V2_ON, user=coordinator_a, reason="x")
    with pytest.raises(ConsentError) as refused:
        consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason=" ")
    assert refused.value.code == "reason_required"
    assert ConsentDocument.objects.count() == 1


def test_a_version_that_would_turn_recorded_consents_is_refused(plans, v1, site_a, coordinator_a, data_manager):
    make_eligible_screening(site=site_a)  # consent 2026-02-20 on 1.0
    with pytest.raises(ConsentError, match="1 consents on version 1.0 are dated on or after 2026-02-20") as refused:
        consents.add_version(version="2.0", effective_date=dt.date(2026, 2, 20), user=data_manager, reason="x")
    assert refused.value.code == "consents_after"
    # The day after the consent is fine: that consent stays on a version in force on its date (P18 unchanged).
    consents.add_version(version="2.0", effective_date=dt.date(2026, 2, 21), user=data_manager, reason="x")


def test_rename_version(v1, data_manager):
    consents.rename_version(document=v1, version="1.1", user=data_manager, reason="The printed version number")
    assert ConsentDocument.objects.get(pk=v1.pk).version == "1.1"


# --- who must re-consent --------------------------------------------------------------------------------


def test_patients_on_study_on_a_superseded_version_must_reconsent(plans, v1, site_a, coordinator_a, data_manager):
    registered = register(make_eligible_screening(site=site_a), coordinator_a).patient
    randomized = randomized_patient(site_a, coordinator_a)
    eligible = make_eligible_screening(site=site_a).patient  # not yet registered: not asked (docs)
    assert awaiting_numbers() == []  # 1.0 is in force
    consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason="Revised")
    assert awaiting_numbers() == sorted([registered.screening_number, randomized.screening_number])
    assert eligible.screening_number not in awaiting_numbers()
    assert awaiting_numbers(today=V2_ON - dt.timedelta(days=1)) == []  # announced, not yet in effect


def test_an_announced_version_asks_nothing_before_it_takes_effect(plans, v1, site_a, coordinator_a, data_manager):
    register(make_eligible_screening(site=site_a), coordinator_a)
    future = timezone.localdate() + dt.timedelta(days=30)
    consents.add_version(version="2.0", effective_date=future, user=data_manager, reason="Announced")
    assert awaiting_numbers() == []
    assert len(awaiting_numbers(today=future)) == 1


@pytest.mark.parametrize(("kind", "asked"), [("treatment", True), ("visits", False), ("all_data", False)])
def test_withdrawn_patients_not_seen_any_more_are_not_asked(plans, v2, site_a, coordinator_a, kind, asked):
    patient = randomized_patient(site_a, coordinator_a)
    followup_services.record_withdrawal(patient=patient, data={"date": day(30), "kind": kind}, user=coordinator_a)
    assert (patient.screening_number in awaiting_numbers()) is asked


def test_a_patient_who_died_is_not_asked(plans, v2, site_a, coordinator_a):
    patient = randomized_patient(site_a, coordinator_a)
    followup_services.record_death(patient=patient, data={"date": day(40), "cause": "breast_cancer"},
                                   user=coordinator_a)
    assert awaiting_numbers() == []


@pytest.mark.parametrize(("status", "asked"), [("open", True), ("closed_to_accrual", True), ("closed", False)])
def test_site_status_decides_who_is_asked(plans, v2, site_a, coordinator_a, data_manager, status, asked):
    randomized_patient(site_a, coordinator_a)
    if status != "open":
        sites.change_status(site=site_a, status=status, user=data_manager, reason="Stop")
    assert bool(awaiting_numbers()) is asked


# --- recording the re-consent ---------------------------------------------------------------------------


def test_recording_the_reconsent_takes_the_patient_off_the_list(plans, v2, site_a, coordinator_a):
    patient = randomized_patient(site_a, coordinator_a)
    assert awaiting_numbers() == [patient.screening_number]
    record = consents.record_reconsent(patient=patient, document=v2, date=V2_ON + dt.timedelta(days=9),
                                       user=coordinator_a)
    assert awaiting_numbers() == []
    assert consents.current_consent(patient) == (v2, V2_ON + dt.timedelta(days=9))
    latest = record.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Re-consent recorded")


@pytest.mark.parametrize(("change", "code"), [
    ({"date": V2_ON - dt.timedelta(days=1)}, "not_in_force"),  # v2 not yet in force that day
    ({"date": lambda: timezone.localdate() + dt.timedelta(days=1)}, "future_date"),  # tomorrow when it runs
    ({"date": None}, "required"),
    ({"document": "v1"}, "not_in_force"),  # 1.0 is superseded on every date after V2_ON
    ({"document": 99999}, "invalid"),
])
def test_bad_reconsents_are_refused_and_nothing_is_written(plans, v1, v2, site_a, coordinator_a, change, code):
    patient = randomized_patient(site_a, coordinator_a)
    data = {"document": v2, "date": V2_ON, **{k: v() if callable(v) else v for k, v in change.items()}}
    if data["document"] == "v1":
        data["document"] = v1
    with pytest.raises(ConsentError) as refused:
        consents.record_reconsent(patient=patient, user=coordinator_a, **data)
    assert refused.value.code == code
    assert not Reconsent.objects.exists()


def test_a_reconsent_on_the_same_version_or_before_the_consent_is_refused(plans, v1, site_a, coordinator_a,
                                                                           data_manager):
    patient = randomized_patient(site_a, coordinator_a)
    with pytest.raises(ConsentError) as refused:
        consents.record_reconsent(patient=patient, document=v1, date=dt.date(2026, 3, 1), user=coordinator_a)
    assert refused.value.code == "not_newer"
    early = consents.add_version(version="2.0", effective_date=dt.date(2026, 2, 21), user=data_manager, reason="x")
    with pytest.raises(ConsentError) as refused:
        consents.record_reconsent(patient=patient, document=early, date=dt.date(2026, 2, 19), user=coordinator_a)
    assert refused.value.code in {"not_in_force", "order"}


def test_reconsent_is_refused_before_registration_at_a_closed_site_and_to_other_sites(
        plans, v2, site_a, site_b, coordinator_a, coordinator_b, monitor_a, data_manager):
    eligible = make_eligible_screening(site=site_a).patient
    with pytest.raises(ConsentError) as refused:
        consents.record_reconsent(patient=eligible, document=v2, date=V2_ON, user=coordinator_a)
    assert refused.value.code == "reconsent_stage"
    patient = randomized_patient(site_a, coordinator_a)
    for user in (coordinator_b, monitor_a):
        with pytest.raises(ConsentError) as refused:
            consents.record_reconsent(patient=patient, document=v2, date=V2_ON, user=user)
        assert refused.value.code == "forbidden"
    sites.change_status(site=site_a, status="closed", user=data_manager, reason="Stop")
    with pytest.raises(sites.SiteStatusRefused, match="Closed"):
        consents.record_reconsent(patient=patient, document=v2, date=V2_ON, user=coordinator_a)
    assert not Reconsent.objects.exists()


# --- pages and digest -----------------------------------------------------------------------------------


def test_worklist_lists_the_patient_until_the_reconsent_is_recorded(plans, v2, site_a, coordinator_a, client):
    patient = randomized_patient(site_a, coordinator_a)
    client.force_login(coordinator_a)
    html = client.get(reverse("home")).content.decode()
    assert 'id="reconsent-table"' in html and patient.screening_number in html
    url = reverse("screening:reconsent", args=[patient.pk])
    assert url in html
    page = client.get(url).content.decode()
    assert "Re-consent needed: version 2.0 is in force." in page and 'id="reconsent-form"' in page
    response = client.post(url, {"document": v2.pk, "date": "2026-06-05", "reason": ""})
    assert response.status_code == 302
    assert 'id="reconsent-table"' not in client.get(reverse("home")).content.decode()
    assert "The patient's latest consent is on version 2.0" in client.get(url).content.decode()


def test_a_bad_reconsent_post_shows_the_message(plans, v2, site_a, coordinator_a, client):
    patient = randomized_patient(site_a, coordinator_a)
    client.force_login(coordinator_a)
    response = client.post(reverse("screening:reconsent", args=[patient.pk]),
                           {"document": v2.pk, "date": "2026-05-01"})
    assert response.status_code == 200
    assert "Version 2.0 was not in force on 2026-05-01." in response.content.decode()
    assert not Reconsent.objects.exists()


def test_data_manager_home_lists_every_site(plans, v2, site_a, site_b, coordinator_a, coordinator_b, data_manager,
                                            client):
    a = randomized_patient(site_a, coordinator_a)
    b = randomized_patient(site_b, coordinator_b)
    client.force_login(data_manager)
    html = client.get(reverse("home")).content.decode()
    assert a.screening_number in html and b.screening_number in html


def test_digest_section_for_the_site_and_for_the_data_centre(plans, v2, site_a, site_b, coordinator_a):
    patient = randomized_patient(site_a, coordinator_a)
    today = timezone.localdate()
    section = reconsent.digest_section(audience=Audience.SITE_STAFF, site=site_a, today=today)
    assert section["title"] == "Re-consent needed on version 2.0"
    assert section["lines"] == [f"{patient.screening_number} · consented on version 1.0 (2026-02-20)"]
    assert reconsent.digest_section(audience=Audience.SITE_STAFF, site=site_b, today=today) is None
    assert reconsent.digest_section(audience=Audience.DATA_MANAGERS, site=None, today=today)["lines"] == \
        section["lines"]


def test_consent_documents_page(v2, coordinator_a, data_manager, statistician, client):
    client.force_login(coordinator_a)
    html = client.get(reverse("screening:consent_documents")).content.decode()
    assert "2.0" in html and 'id="version-form"' not in html
    assert client.post(reverse("screening:consent_document_add"),
                       {"version": "3.0", "effective_date": "2027-01-01", "reason": "x"}).status_code == 403
    client.force_login(statistician)
    assert client.get(reverse("screening:consent_documents")).status_code == 403
    client.force_login(data_manager)
    assert 'id="version-form"' in client.get(reverse("screening:consent_documents")).content.decode()
    response = client.post(reverse("screening:consent_document_add"),
                           {"version": "3.0", "effective_date": "2026-05-01", "reason": "Revised"})
    assert response.status_code == 200 and "The effective date must be after 2026-06-01" in response.content.decode()
    response = client.post(reverse("screening:consent_document_add"),
                           {"version": "3.0", "effective_date": "2027-01-01", "reason": "Revised"})
    assert response.status_code == 302 and ConsentDocument.objects.filter(version="3.0").exists()


def test_worklist_queries_are_bounded(plans, v2, site_a, coordinator_a, client, django_assert_max_num_queries):
    for _ in range(3):
        randomized_patient(site_a, coordinator_a)
    client.force_login(coordinator_a)
    client.get(reverse("home"))
    with django_assert_max_num_queries(60) as captured:
        client.get(reverse("home"))
    few = len(captured)
    for _ in range(3):
        randomized_patient(site_a, coordinator_a)
    with django_assert_max_num_queries(few):
        client.get(reverse("home"))


def test_the_worklist_chooses_the_same_patients_in_the_database(plans, v1, site_a, coordinator_a, data_manager):
    """consents.awaiting_reconsent_first against awaiting_reconsent (awaiting_numbers compares them): re-consents,
    no version on file, a later screening on a newer version, and a third version superseding the second."""
    patients = [randomized_patient(site_a, coordinator_a) for _ in range(5)]
    v2 = consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason="Revised")
    consents.record_reconsent(patient=patients[0], document=v2, date=V2_ON + dt.timedelta(days=3), user=coordinator_a)
    Screening.objects.filter(patient=patients[1]).update(consent_version=None)  # test set-up: none on file
    latest = Screening.objects.filter(patient=patients[2]).order_by("number").last()
    Screening.objects.filter(pk=latest.pk).update(consent_version=v2)
    assert awaiting_numbers() == [p.screening_number for p in patients[1:] if p != patients[2]]
    v3_on = V2_ON + dt.timedelta(days=60)
    consents.add_version(version="3.0", effective_date=v3_on, user=data_manager, reason="Revised again")
    assert awaiting_numbers() == sorted(p.screening_number for p in patients)
    assert awaiting_numbers(today=v3_on - dt.timedelta(days=1)) == [p.screening_number for p in patients[1:]
                                                                     if p != patients[2]]
