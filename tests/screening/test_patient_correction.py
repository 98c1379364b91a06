"""Sex or date of birth entered wrong (issue 15): corrected with a reason, the criteria that depend on them
judged again (P9: age 18 to 80 on the screening date), refused to the site once the patient is registered,
applied by a data manager then."""

import datetime as dt

import pytest
from django.urls import reverse

from screening import services
from screening.exceptions import ReasonRequired, ScreeningError, ScreeningLocked
from screening.models import Patient, Screening
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db

TOO_OLD = dt.date(JUDGED_ON.year - 81, 1, 1)  # 81 on the screening date: P9 not met
ELIGIBLE_BIRTH = dt.date(1968, 7, 15)


@pytest.fixture
def plans(db):
    return make_plans()


def correct(patient, user, *, sex="female", birth_date=TOO_OLD, reason="Birth year mistyped"):
    return services.correct_patient_identity(patient=patient, user=user, sex=sex, birth_date=birth_date,
                                             reason=reason)


def test_site_corrects_before_registration_and_the_verdict_follows(site_a, coordinator_a):
    screening = make_eligible_screening(site=site_a)
    patient = screening.patient
    result = correct(patient, coordinator_a)
    assert result.reevaluated
    assert [(c.id, c.before, c.after) for c in result.changes] == [("P9", "met", "not_met")]
    assert "81" in result.changes[0].reason
    screening.refresh_from_db()
    patient.refresh_from_db()
    assert (patient.birth_date, patient.stage) == (TOO_OLD, Patient.Stage.SCREEN_FAILED)
    assert screening.outcome == Screening.Outcome.NOT_ELIGIBLE and "P9" in screening.verdict["failed"]
    latest = patient.history.first()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Birth year mistyped")
    assert screening.history.first().history_change_reason == "Birth year mistyped"
    # and back: eligible again
    result = correct(patient, coordinator_a, birth_date=ELIGIBLE_BIRTH, reason="Back to the chart's date")
    assert [(c.id, c.after) for c in result.changes] == [("P9", "met")]
    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.ELIGIBLE


def test_sex_is_judged_by_no_criterion_but_corrected_and_audited(site_a, coordinator_a):
    patient = make_eligible_screening(site=site_a).patient
    result = correct(patient, coordinator_a, sex="male", birth_date=ELIGIBLE_BIRTH, reason="Sex mistyped")
    assert result.changes == []  # the listing accepts all genders (eligibility.PrimaryFacts.sex)
    patient.refresh_from_db()
    assert (patient.sex, patient.stage) == ("male", Patient.Stage.ELIGIBLE)


def test_a_patient_not_yet_screened(site_a, coordinator_a):
    from tests.factories import PatientFactory

    patient = PatientFactory(site=site_a)
    result = correct(patient, coordinator_a)
    assert (result.changes, result.reevaluated) == ([], False)


@pytest.mark.parametrize(("kwargs", "error", "code"), [
    ({"reason": ""}, ReasonRequired, "reason_required"),
    ({"reason": "  "}, ReasonRequired, "reason_required"),
    ({"reason": "x" * 101}, ScreeningError, "reason_too_long"),
    ({"birth_date": dt.date(2999, 1, 1)}, ScreeningError, "future_date"),
    ({"birth_date": dt.date(1800, 1, 1)}, ScreeningError, "invalid"),
    ({"birth_date": None}, ScreeningError, "required"),
    ({"sex": "other"}, ScreeningError, "invalid"),
    ({"birth_date": ELIGIBLE_BIRTH}, ScreeningError, "unchanged"),
])
def test_bad_input_changes_nothing(site_a, coordinator_a, kwargs, error, code):
    patient = make_eligible_screening(site=site_a).patient
    with pytest.raises(error) as refused:
        correct(patient, coordinator_a, **kwargs)
    assert refused.value.code == code
    patient.refresh_from_db()
    assert (patient.sex, patient.birth_date, patient.stage) == ("female", ELIGIBLE_BIRTH, Patient.Stage.ELIGIBLE)


def test_wrong_roles_are_refused(site_a, monitor_a, coordinator_b):
    patient = make_eligible_screening(site=site_a).patient
    for user in (monitor_a, coordinator_b):
        with pytest.raises(ScreeningError) as refused:
            correct(patient, user)
        assert refused.value.code == "forbidden"
    patient.refresh_from_db()
    assert patient.birth_date == ELIGIBLE_BIRTH


def test_registered_patient_needs_a_data_manager(plans, site_a, coordinator_a, data_manager):
    screening = make_eligible_screening(site=site_a)
    patient = register(screening, coordinator_a).patient
    with pytest.raises(ScreeningLocked) as refused:
        correct(patient, coordinator_a)
    assert refused.value.code == "registered" and "data manager" in refused.value.message
    result = correct(patient, data_manager, reason="Approved: chart says 1945")
    assert not result.reevaluated
    assert [(c.id, c.after) for c in result.changes] == [("P9", "not_met")]
    patient.refresh_from_db()
    screening.refresh_from_db()
    assert (patient.birth_date, patient.stage) == (TOO_OLD, Patient.Stage.REGISTERED)
    assert screening.outcome == Screening.Outcome.ELIGIBLE  # the verdict the registration was signed on stays
    assert patient.history.first().history_user == data_manager


# --- the page -------------------------------------------------------------------------------------------


def url(patient):
    return reverse("screening:patient_correct", kwargs={"pk": patient.pk})


def post(birth_date=TOO_OLD, reason="Birth year mistyped", sex="female"):
    return {"sex": sex, "birth_date": birth_date.isoformat() if birth_date else "", "reason": reason}


def test_page_corrects_and_shows_the_criterion(client, site_a, coordinator_a):
    patient = make_eligible_screening(site=site_a).patient
    client.force_login(coordinator_a)
    assert 'id="correct-identity"' in client.get(reverse("screening:patient_detail", kwargs={"pk": patient.pk})
                                                 ).content.decode()
    assert client.get(url(patient)).status_code == 200
    response = client.post(url(patient), post(), follow=True)
    page = response.content.decode()
    assert "P9 is now not met" in page
    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.SCREEN_FAILED


@pytest.mark.parametrize("body", [post(reason=""), post(birth_date=None), post(sex="x"), {"birth_date": "31/02/x"},
                                  post(birth_date=dt.date(2999, 1, 1)), post(reason="r" * 300)])
def test_page_bad_input_is_a_form_error(client, site_a, coordinator_a, body):
    patient = make_eligible_screening(site=site_a).patient
    client.force_login(coordinator_a)
    assert client.post(url(patient), body).status_code == 200
    patient.refresh_from_db()
    assert patient.birth_date == ELIGIBLE_BIRTH


def test_page_roles(client, plans, site_a, coordinator_a, monitor_a, coordinator_b, data_manager, statistician):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    for user, code in ((monitor_a, 403), (coordinator_b, 404), (statistician, 404)):
        client.force_login(user)
        assert client.get(url(patient)).status_code == code
        assert client.post(url(patient), post()).status_code == code
    client.force_login(coordinator_a)  # registered: the page says whom to ask, a POST is refused with it
    assert 'id="correction-refused"' in client.get(url(patient)).content.decode()
    response = client.post(url(patient), post())
    assert response.status_code == 200 and "only by a data manager" in response.content.decode()
    patient.refresh_from_db()
    assert patient.birth_date == ELIGIBLE_BIRTH
    client.force_login(data_manager)
    response = client.post(url(patient), post(reason="Approved"), follow=True)
    assert "protocol deviation" in response.content.decode()
    patient.refresh_from_db()
    assert patient.birth_date == TOO_OLD


def test_page_queries_are_bounded(client, site_a, coordinator_a, django_assert_max_num_queries):
    patient = make_eligible_screening(site=site_a).patient
    client.force_login(coordinator_a)
    with django_assert_max_num_queries(12):
        assert client.get(url(patient)).status_code == 200
    with django_assert_max_num_queries(40):
        assert client.post(url(patient), post()).status_code == 302
