"""Screening at a site that is not open is refused before anything is written (issue 17): the new-patient
page and its POST, the screening form of an existing patient, and the refusal names the site's status."""

import datetime as dt

import pytest
from django.urls import reverse

from oligami_site.models import Site
from screening import services
from screening.models import Patient, Screening
from tests.factories import MembershipFactory
from tests.screening.factories import eligible_inputs, post_data

pytestmark = pytest.mark.django_db
NOT_OPEN = [("pending", "Pending approval"), ("closed_to_accrual", "Closed to accrual"), ("closed", "Closed")]
NEW = {"sex": "female", "birth_date": "1968-07-15"}


def set_status(site, status):
    site.status = status
    site.save()


@pytest.mark.parametrize(("status", "label"), NOT_OPEN)
def test_new_patient_page_and_post_refuse_naming_the_status(client, site_a, coordinator_a, status, label):
    set_status(site_a, status)
    client.force_login(coordinator_a)
    history = Site.history.count()
    page = client.get(reverse("screening:patient_create"))
    assert page.status_code == 403
    assert f"SITEA is {label}: screening a patient is not possible at this site." in page.content.decode()
    assert 'id="create-patient"' not in page.content.decode()
    posted = client.post(reverse("screening:patient_create"), {"site": site_a.pk, **NEW})
    assert posted.status_code == 403 and label in posted.content.decode()
    assert not Patient.objects.exists() and not Patient.history.exists() and Site.history.count() == history


def test_a_user_of_two_sites_may_screen_only_at_the_open_one(client, site_a, site_b, coordinator_a):
    MembershipFactory(user=coordinator_a, site=site_b, role="coordinator")
    set_status(site_b, "closed_to_accrual")
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:patient_create")).content.decode()
    assert "SITEB Site B Hospital (Closed to accrual)" in page
    refused = client.post(reverse("screening:patient_create"), {"site": site_b.pk, **NEW})
    assert refused.status_code == 200
    assert "SITEB is Closed to accrual: screening a patient is not possible" in refused.content.decode()
    assert not Patient.objects.exists()
    created = client.post(reverse("screening:patient_create"), {"site": site_a.pk, **NEW})
    assert created.status_code == 302 and Patient.objects.get().site == site_a


@pytest.mark.parametrize(("status", "label"), NOT_OPEN)
def test_the_screening_form_of_an_existing_patient_refuses(client, site_a, coordinator_a, status, label):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15),
                                      user=coordinator_a)
    set_status(site_a, status)
    client.force_login(coordinator_a)
    data, lesions, labs = eligible_inputs()
    url = reverse("screening:screening_create", args=[patient.pk])
    for response in (client.get(url), client.post(url, post_data(data, lesions, labs))):
        assert response.status_code == 302
    assert not Screening.objects.exists()
    detail = client.get(reverse("screening:patient_detail", args=[patient.pk]), follow=True).content.decode()
    assert f"SITEA is {label}" in detail
    assert "Start screening" not in detail


def test_a_closed_sites_staff_still_read_their_patients(client, site_a, coordinator_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15),
                                      user=coordinator_a)
    set_status(site_a, "closed")
    client.force_login(coordinator_a)
    assert client.get(reverse("screening:patient_detail", args=[patient.pk])).status_code == 200
    assert client.get(reverse("screening:patient_list")).status_code == 200
