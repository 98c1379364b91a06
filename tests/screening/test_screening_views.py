"""Screening pages: site isolation (another site's object is a 404), read-only roles, navigation."""

import datetime as dt

import pytest
from django.urls import reverse

from screening import services
from screening.models import Patient, Screening
from tests.screening.factories import eligible_inputs, post_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def screened_a(site_a, coordinator_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    return services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)


def object_urls(screening):
    """Every screening URL that names a patient or a screening."""
    return read_urls(screening) + write_urls(screening)


def read_urls(screening):
    return [reverse("screening:patient_detail", args=[screening.patient.pk]),
            reverse("screening:checklist", args=[screening.pk])]


def write_urls(screening):
    p, s = screening.patient.pk, screening.pk
    return [reverse("screening:screening_create", args=[p]), reverse("screening:rescreen", args=[p]),
            reverse("screening:screening_edit", args=[s])]


def test_every_url_of_another_sites_patient_is_a_404(client, screened_a, coordinator_b):
    client.force_login(coordinator_b)
    data, lesions, labs = eligible_inputs()
    for url in object_urls(screened_a):
        assert client.get(url).status_code in (404, 405), url  # 405: the re-screen action is POST only
    for url in write_urls(screened_a):
        assert client.post(url, post_data(data, lesions, labs, reason="x")).status_code == 404, url
    for url in read_urls(screened_a):  # read pages refuse every POST, whoever asks
        assert client.post(url).status_code == 405, url
    assert Screening.objects.count() == 1 and screened_a.history.count() == 1


def test_unknown_ids_are_404(client, coordinator_a):
    client.force_login(coordinator_a)
    for name in ("patient_detail", "screening_create", "checklist", "screening_edit"):
        assert client.get(reverse(f"screening:{name}", args=[999999])).status_code == 404


def test_lists_and_export_show_only_the_users_sites(client, screened_a, site_b, coordinator_b):
    other = services.create_patient(site=site_b, sex="female", birth_date=dt.date(1970, 1, 1), user=coordinator_b)
    client.force_login(coordinator_b)
    for name in ("patient_list", "log"):
        page = client.get(reverse(f"screening:{name}")).content.decode()
        assert "SITEA-S0001" not in page
    assert other.screening_number in client.get(reverse("screening:patient_list")).content.decode()
    csv = b"".join(client.get(reverse("screening:log_csv")).streaming_content).decode()
    assert "SITEA" not in csv
    # A site filter naming another site shows nothing of it either.
    page = client.get(reverse("screening:patient_list"), {"site": screened_a.patient.site_id}).content.decode()
    assert "SITEA-S0001" not in page


def test_monitor_reads_but_cannot_write(client, screened_a, monitor_a):
    client.force_login(monitor_a)
    patient = screened_a.patient
    detail = client.get(reverse("screening:patient_detail", args=[patient.pk])).content.decode()
    checklist = client.get(reverse("screening:checklist", args=[screened_a.pk])).content.decode()
    listing = client.get(reverse("screening:patient_list")).content.decode()
    assert patient.screening_number in listing and "Eligible for primary registration" in checklist
    for page in (detail, checklist, listing):
        for button in ("Edit facts", "New patient", "Re-screen", "Start screening"):
            assert button not in page
    data, lesions, labs = eligible_inputs()
    for url in [*write_urls(screened_a), reverse("screening:patient_create")]:
        assert client.post(url, post_data(data, lesions, labs, reason="x")).status_code == 403, url
    for url in [*read_urls(screened_a), reverse("screening:patient_list"), reverse("screening:log")]:
        assert client.post(url).status_code == 405, url
    assert client.get(reverse("screening:screening_edit", args=[screened_a.pk])).status_code == 403
    assert client.get(reverse("screening:patient_create")).status_code == 403
    assert Patient.objects.count() == 1 and Screening.objects.count() == 1


def test_data_manager_reads_every_site_and_writes_nothing(client, screened_a, data_manager):
    client.force_login(data_manager)
    assert "SITEA-S0001" in client.get(reverse("screening:patient_list")).content.decode()
    assert "SITEA-S0001" in client.get(reverse("screening:log")).content.decode()
    assert client.get(reverse("screening:checklist", args=[screened_a.pk])).status_code == 200
    assert client.post(reverse("screening:rescreen", args=[screened_a.patient.pk])).status_code == 403
    assert client.get(reverse("screening:patient_create")).status_code == 403


def test_statistician_sees_no_patient(client, screened_a, statistician):
    client.force_login(statistician)
    for name in ("patient_list", "log", "log_csv", "patient_create"):
        assert client.get(reverse(f"screening:{name}")).status_code == 403, name
    for url in object_urls(screened_a):
        assert client.get(url).status_code in (404, 405), url
    home = client.get(reverse("home")).content.decode()
    assert reverse("screening:patient_list") not in home


def test_navigation_links_for_site_staff_and_data_managers(client, coordinator_a, data_manager):
    for user in (coordinator_a, data_manager):
        client.force_login(user)
        home = client.get(reverse("home")).content.decode()
        assert reverse("screening:patient_list") in home and reverse("screening:log") in home


def test_coordinator_creates_screens_and_rescreens(client, site_a, coordinator_a):
    client.force_login(coordinator_a)
    response = client.post(reverse("screening:patient_create"),
                           {"site": site_a.pk, "sex": "female", "birth_date": "1968-07-15"})
    patient = Patient.objects.get()
    assert response["Location"] == reverse("screening:patient_detail", args=[patient.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Start screening" in page and "Re-screen" not in page
    data, lesions, labs = eligible_inputs()
    labs["hemoglobin"] = "8.0"
    client.post(reverse("screening:screening_create", args=[patient.pk]), post_data(data, lesions, labs))
    first = patient.screenings.get()
    assert first.outcome == Screening.Outcome.NOT_ELIGIBLE
    # A second "first screening" is redirected to the patient page.
    again = client.get(reverse("screening:screening_create", args=[patient.pk]))
    assert again.status_code == 302
    page = client.get(reverse("screening:patient_detail", args=[patient.pk])).content.decode()
    assert "Re-screen" in page
    response = client.post(reverse("screening:rescreen", args=[patient.pk]), {"reason": "transfused"})
    second = patient.screenings.get(number=2)
    assert response["Location"] == reverse("screening:screening_edit", args=[second.pk])
    # The superseded screening opens as its checklist, not as a form.
    old_edit = client.get(reverse("screening:screening_edit", args=[first.pk]))
    assert old_edit["Location"] == reverse("screening:checklist", args=[first.pk])
    # Re-screening again while screening 2 is a draft is refused with a message.
    response = client.post(reverse("screening:rescreen", args=[patient.pk]), follow=True)
    assert "still a draft" in response.content.decode()
    assert patient.screenings.count() == 2
    too_long = client.post(reverse("screening:rescreen", args=[patient.pk]), {"reason": "x" * 10000}, follow=True)
    assert too_long.status_code == 200 and patient.screenings.count() == 2


def test_registered_patient_is_read_only(client, screened_a, coordinator_a):
    Patient.objects.filter(pk=screened_a.patient.pk).update(stage=Patient.Stage.REGISTERED)  # set-up only
    client.force_login(coordinator_a)
    checklist = client.get(reverse("screening:checklist", args=[screened_a.pk])).content.decode()
    assert "Edit facts" not in checklist
    response = client.get(reverse("screening:screening_edit", args=[screened_a.pk]))
    assert response["Location"] == reverse("screening:checklist", args=[screened_a.pk])
