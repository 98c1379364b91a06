"""Follow-up pages: site scoping, role limits, forms through the services (a refusal shows its reason and
saves nothing), bounded queries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import services
from followup.models import Assessment, Death, SystemicCourse, Withdrawal
from tests.followup.factories import PRIMARY_ON, day, randomized_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(plans, site_a, coordinator_a):
    return randomized_patient(site_a, coordinator_a, arm="B")


def test_coordinator_records_an_assessment_and_sees_the_endpoints(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    url = reverse("followup:assessment", kwargs={"pk": patient.pk})
    response = client.post(url, {"date": day(70).isoformat(), "study_visit": "visit", "progression": "yes",
                                 "progression_sites": ["new_organ", "treated_lesion"], "notes": ""})
    assert response.status_code == 302
    assessment = Assessment.objects.get(patient=patient)
    assert assessment.progression_sites == ["new_organ", "treated_lesion"]
    assert assessment.history.get().history_user == coordinator_a
    page = client.get(reverse("followup:patient", kwargs={"pk": patient.pk})).content.decode()
    assert 'id="pfs"' in page and "70" in page


def test_a_refused_entry_shows_the_reason_and_saves_nothing(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    future = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = client.post(reverse("followup:death", kwargs={"pk": patient.pk}), {"date": future, "cause": "other"})
    assert response.status_code == 200 and "is in the future" in response.content.decode()
    response = client.post(reverse("followup:death", kwargs={"pk": patient.pk}),
                           {"date": day(-1).isoformat(), "cause": "other"})
    assert "before the randomization date" in response.content.decode()
    assert not Death.objects.exists()


def test_course_page_records_then_ends_a_course_with_a_reason(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    url = reverse("followup:course", kwargs={"pk": patient.pk})
    plan = patient.primary_registration.plan_id
    assert client.post(url, {"plan": plan, "start_date": PRIMARY_ON.isoformat(), "dose_modified": "no",
                             "stopped_early": "no"}).status_code == 302
    course = SystemicCourse.objects.get(patient=patient)
    edit = f"{url}?id={course.pk}"
    data = {"plan": plan, "start_date": PRIMARY_ON.isoformat(), "end_date": day(-60).isoformat(),
            "dose_modified": "yes", "stopped_early": "no"}
    assert client.post(edit, data).status_code == 200  # the reason for the change is required
    assert client.post(edit, {**data, "change_reason": "Course completed"}).status_code == 302
    course.refresh_from_db()
    assert course.end_date == day(-60) and course.history.first().history_change_reason == "Course completed"
    assert client.get(f"{url}?id=999999").status_code == 404
    assert client.get(f"{url}?id=abc").status_code == 404


def test_withdrawal_page(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    url = reverse("followup:withdrawal", kwargs={"pk": patient.pk})
    assert client.post(url, {"date": day(10).isoformat(), "kind": "visits"}).status_code == 302
    assert Withdrawal.objects.get(patient=patient).kind == "visits"
    response = client.post(url, {"date": day(11).isoformat(), "kind": "all_data"})
    assert "already recorded" in response.content.decode()


def test_other_site_404_monitor_and_data_manager_read_only(client, patient, coordinator_b, monitor_a, data_manager):
    page = reverse("followup:patient", kwargs={"pk": patient.pk})
    form = reverse("followup:assessment", kwargs={"pk": patient.pk})
    client.force_login(coordinator_b)
    assert client.get(page).status_code == 404 and client.post(form, {}).status_code == 404
    for user in (monitor_a, data_manager):
        client.force_login(user)
        assert client.get(page).status_code == 200
        assert client.post(form, {"date": day(5).isoformat(), "progression": "no",
                                  "study_visit": "visit"}).status_code == 403
    assert not Assessment.objects.exists()


def test_patient_page_queries_do_not_grow_with_records(client, patient, coordinator_a, django_assert_max_num_queries):
    client.force_login(coordinator_a)
    url = reverse("followup:patient", kwargs={"pk": patient.pk})
    client.get(url)
    for n in range(8):
        services.record_assessment(patient=patient, user=coordinator_a,
                                   data={"date": day(10 + n), "progression": False})
        services.record_course(patient=patient, user=coordinator_a, data={
            "start_date": day(10 + n), "end_date": day(10 + n), "dose_modified": False, "stopped_early": False})
        services.record_last_known_alive(patient=patient, user=coordinator_a, data={"date": day(10 + n)})
    with django_assert_max_num_queries(30):
        assert client.get(url).status_code == 200
