"""The status x action table applied by the services (issue 17): each service at a site in each status.

Every refused write raises SiteStatusRefused with the code of the status and a message naming it, and
leaves nothing behind; every allowed one goes through. The table itself is tested cell by cell in
tests/oligami_site/test_site_status.py; here each service is checked against the same table.
"""

import datetime as dt

import pytest
from django.utils import translation

from oligami_site import site_status
from oligami_site.models import Site
from oligami_site.site_status import SiteAction
from oligami_site.sites import SiteStatusRefused
from randomization.models import Allocation
from randomization.services import randomize
from registration import services
from registration.models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration
from screening import services as screening_services
from screening.models import Patient, Screening
from tests.factories import PASSWORD
from tests.registration.factories import JUDGED_ON, make_eligible_screening, record, register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """The messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield
DAY = dt.timedelta(days=1)
STATUSES = [s.value for s in site_status.Status]
LABELS = {"pending": "Pending approval", "open": "Open", "closed_to_accrual": "Closed to accrual",
          "closed": "Closed"}


def set_status(site, status):
    """Test set-up only: the services' own path (sites.change_status) is tested in tests/oligami_site."""
    site.status = status
    site.save()


def expect(status, action, call):
    """Run `call`; refused exactly when the table says so, with the status's code and label."""
    if site_status.allows(status, action):
        return call()
    with pytest.raises(SiteStatusRefused) as refused:
        call()
    assert refused.value.code == f"site_{status}"
    assert LABELS[status] in str(refused.value.message)
    return None


@pytest.mark.parametrize("status", STATUSES)
def test_new_patient(status, site_a, coordinator_a):
    set_status(site_a, status)
    created = expect(status, SiteAction.SCREENING, lambda: screening_services.create_patient(
        site=site_a, sex="female", birth_date=dt.date(1970, 1, 1), user=coordinator_a))
    assert Patient.objects.count() == (1 if created else 0)


@pytest.mark.parametrize("status", STATUSES)
def test_screening_facts_and_rescreening(status, plans, site_a, coordinator_a):
    screening = make_eligible_screening(site=site_a)
    set_status(site_a, status)
    expect(status, SiteAction.SCREENING, lambda: screening_services.start_rescreening(
        patient=screening.patient, user=coordinator_a))
    assert Screening.objects.count() == (2 if site_status.allows(status, SiteAction.SCREENING) else 1)


@pytest.mark.parametrize("status", STATUSES)
def test_primary_registration(status, plans, site_a, coordinator_a):
    screening = make_eligible_screening(site=site_a)
    set_status(site_a, status)
    expect(status, SiteAction.PRIMARY_REGISTRATION, lambda: register(screening, coordinator_a))
    assert PrimaryRegistration.objects.count() == (1 if status == "open" else 0)


@pytest.mark.parametrize("status", STATUSES)
def test_response_evaluation_and_secondary_registration_with_randomization(status, plans, site_a, coordinator_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    set_status(site_a, status)
    evaluated = expect(status, SiteAction.SECONDARY_REGISTRATION,
                       lambda: record(patient, coordinator_a, JUDGED_ON + 85 * DAY))
    if not evaluated:
        assert not ResponseEvaluation.objects.exists()
        return
    secondary = services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                            registration_date=JUDGED_ON + 86 * DAY)
    assert secondary.patient.allocation.arm in ("A", "B")


@pytest.mark.parametrize("status", ["pending", "closed"])
def test_secondary_registration_refused_where_the_table_says(status, plans, site_a, coordinator_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
    set_status(site_a, status)
    expect(status, SiteAction.SECONDARY_REGISTRATION, lambda: services.register_secondary(
        patient=patient, user=coordinator_a, password=PASSWORD, registration_date=JUDGED_ON + 86 * DAY))
    assert not SecondaryRegistration.objects.exists() and not Allocation.objects.exists()
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.REGISTERED


@pytest.mark.parametrize("status", STATUSES)
def test_randomize_itself_asks_the_table(status, plans, site_a, coordinator_a):
    # randomize() is the one door to an allocation: it checks the status itself, whoever calls it.
    # registered: the stage randomize takes inside secondary registration (screening.stages)
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    set_status(site_a, status)
    factors = {"site": site_a.code, "subtype": "luminal", "lesions": "1", "bone_only": "no", "response": "PR"}
    expect(status, SiteAction.RANDOMIZATION, lambda: randomize(patient=patient, factors=factors, user=coordinator_a))
    assert Allocation.objects.count() == (1 if site_status.allows(status, SiteAction.RANDOMIZATION) else 0)


@pytest.mark.parametrize("status", STATUSES)
def test_off_study_is_follow_up_entry(status, plans, site_a, coordinator_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    set_status(site_a, status)
    expect(status, SiteAction.FOLLOW_UP, lambda: services.take_off_study(
        patient=patient, user=coordinator_a, date=JUDGED_ON + 30 * DAY, reason="withdrawal"))
    assert OffStudy.objects.count() == (1 if site_status.allows(status, SiteAction.FOLLOW_UP) else 0)


def test_status_labels_match_the_model(db):
    assert {value: str(label) for value, label in Site.Status.choices} == LABELS


# --- closing a site never strands a patient awaiting secondary registration ----------------------------


def test_closing_waits_for_patients_awaiting_secondary_registration(plans, site_a, coordinator_a, data_manager):
    from oligami_site import sites
    from oligami_site.sites import SiteChangeRefused

    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    with pytest.raises(SiteChangeRefused, match="SITEA is Open and 1 of its patients await") as refused:
        sites.change_status(site=site_a, status="closed", user=data_manager, reason="Stop")
    assert refused.value.code == "would_strand"
    sites.change_status(site=site_a, status="closed_to_accrual", user=data_manager, reason="Accrual target met")
    with pytest.raises(SiteChangeRefused, match="Closed to accrual and 1"):
        sites.change_status(site=site_a, status="closed", user=data_manager, reason="Stop")
    # She goes on to secondary registration and randomization at the site closed to accrual ...
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                registration_date=JUDGED_ON + 86 * DAY)
    # ... and then nobody waits: the site may close.
    assert sites.change_status(site=site_a, status="closed", user=data_manager, reason="Stop").status == "closed"


def test_another_sites_waiting_patient_does_not_block(plans, site_a, site_b, coordinator_b, data_manager):
    from oligami_site import sites

    register(make_eligible_screening(site=site_b), coordinator_b)
    assert sites.change_status(site=site_a, status="closed", user=data_manager, reason="Stop").status == "closed"
