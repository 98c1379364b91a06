"""S1 from the recorded courses (issue 16): the planned courses given are counted from the systemic therapy
courses recorded from primary registration on (followup), never typed; without an app that records courses
S1 cannot be judged and the services refuse with the reason."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import services as followup_services
from registration import courses, services
from registration.exceptions import CoursesUnavailable, NeedsConfirmation, NotEligible
from registration.models import ResponseEvaluation, SecondaryRegistration
from screening.models import Patient
from tests.factories import PASSWORD
from tests.registration.factories import (
    NORMAL_LABS,
    evaluation_data,
    make_eligible_screening,
    record,
    record_courses,
    register,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def today():
    return timezone.localdate()


def registered(site, user, today, days_ago=90):
    """Primary registered `days_ago` days ago, luminal: 3 courses of 28 days planned (the plans fixture)."""
    return register(make_eligible_screening(site=site, on=today - days_ago * DAY), user).patient


def course(patient, user, start, end, **extra):
    return followup_services.record_course(patient=patient, user=user, data={
        "start_date": start, "end_date": end, "dose_modified": False, "stopped_early": False, **extra})


def test_s1_counts_the_courses_recorded_from_primary_registration_to_the_date(plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    primary = patient.primary_registration
    p = primary.registration_date
    course(patient, coordinator_a, p, p + 27 * DAY)
    course(patient, coordinator_a, p + 28 * DAY, p + 55 * DAY)
    course(patient, coordinator_a, p + 56 * DAY, None)  # ongoing: started, so given
    assert services.courses_given(primary, p + 55 * DAY).count == 2  # by start date, inclusive
    given = services.courses_given(primary, p + 56 * DAY)
    assert given.count == 3 and given.completed(3) and not given.completed(4)
    assert [c.number for c in given.courses] == [1, 2, 3] and given.courses[-1].end_date is None
    assert "Test regimen luminal" in given.courses[0].regimen


def test_fewer_courses_recorded_than_planned_refuses_secondary_registration_on_s1(plans, site_a, coordinator_a,
                                                                                   today):
    patient = registered(site_a, coordinator_a, today)
    # A typed number is no longer read: only the two recorded courses count.
    record(patient, coordinator_a, today - 2 * DAY, courses_given=2)
    data = evaluation_data(today - 2 * DAY, courses_given=3)
    services.record_evaluation(patient=patient, data=data, labs={"date": today - 2 * DAY, **NORMAL_LABS},
                               user=coordinator_a, reason="typed courses", confirmed=True)
    with pytest.raises(NotEligible) as refused:
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    assert [cid for cid, _text in refused.value.failures] == ["S1"]
    assert not SecondaryRegistration.objects.exists()
    # The third course, recorded before the registration date: S1 is met.
    record_courses(patient, coordinator_a, 3, today - DAY)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.RANDOMIZED
    criteria = SecondaryRegistration.objects.get(patient=patient).verdict["criteria"]
    assert next(c for c in criteria if c["id"] == "S1")["status"] == "met"


def test_few_courses_warning_counts_the_recorded_courses_by_the_evaluation_date(plans, site_a, coordinator_a,
                                                                                  today):
    patient = registered(site_a, coordinator_a, today)
    record_courses(patient, coordinator_a, 2, today - 2 * DAY)
    with pytest.raises(NeedsConfirmation) as warned:
        services.record_evaluation(patient=patient, data=evaluation_data(today - 2 * DAY),
                                   labs={"date": today - 2 * DAY, **NORMAL_LABS}, user=coordinator_a)
    assert [code for code, _text in warned.value.warnings] == ["fewer_courses"]
    assert "2 courses given, fewer than the 3 planned" in warned.value.warnings[0][1]
    record_courses(patient, coordinator_a, 3, today - 2 * DAY)
    evaluation = services.record_evaluation(patient=patient, data=evaluation_data(today - 2 * DAY),
                                            labs={"date": today - 2 * DAY, **NORMAL_LABS}, user=coordinator_a)
    assert evaluation.courses_given is None  # nothing typed or stored: derived when asked


@pytest.fixture
def no_course_source(monkeypatch):
    """The follow-up app (which records courses) not installed: nothing registered S1's source."""
    monkeypatch.setattr(courses, "_source", None)


def test_without_an_app_recording_courses_the_services_refuse_clearly(plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    courses.register_courses_source(None)  # the registry emptied (restored below)
    try:
        with pytest.raises(CoursesUnavailable, match="cannot be read.*follow-up app is not installed"):
            services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
        with pytest.raises(CoursesUnavailable):
            services.record_evaluation(patient=patient, data=evaluation_data(today - DAY),
                                       labs={"date": today - DAY, **NORMAL_LABS}, user=coordinator_a,
                                       reason="Corrected", confirmed=True)
    finally:
        from followup import selectors as followup_selectors

        courses.register_courses_source(followup_selectors.recorded_courses)
    assert not SecondaryRegistration.objects.exists()
    assert ResponseEvaluation.objects.get(patient=patient).date == today - 2 * DAY  # nothing saved


def test_pages_show_the_refusal_without_an_app_recording_courses(client, plans, site_a, coordinator_a, today,
                                                                  no_course_source):
    patient = registered(site_a, coordinator_a, today)
    client.force_login(coordinator_a)
    for name in ("evaluation", "secondary", "patient"):
        response = client.get(reverse(f"registration:{name}", kwargs={"pk": patient.pk}))
        assert response.status_code == 200, name
    html = client.get(reverse("registration:evaluation", kwargs={"pk": patient.pk})).content.decode()
    assert 'id="courses-unavailable"' in html and "follow-up app is not installed" in html
    assert not courses.available()


def test_evaluation_and_secondary_pages_show_the_courses_s1_came_from(client, plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    client.force_login(coordinator_a)
    html = client.get(reverse("registration:secondary", kwargs={"pk": patient.pk})).content.decode()
    assert 'id="courses-given"' in html and "3 of 3 planned courses recorded from primary registration" in html
    assert html.count("Test regimen luminal") == 3
    html = client.get(reverse("registration:patient", kwargs={"pk": patient.pk})).content.decode()
    assert '<dd class="col-sm-9" id="evaluation-courses">3 / 3</dd>' in html
