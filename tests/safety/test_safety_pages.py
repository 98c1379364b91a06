"""Safety pages: the patient's events from the patient page, the forms (bad input refused, grade 5 sent to
follow-up), signing and acknowledging, the death link, the SAE log with its CSV and bounded queries, the
frequency table (by arm for the statistician only), the data manager's overdue reports per site."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from followup.models import Death
from safety import services
from safety.models import AdverseEvent, ExpeditedReport
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN
from tests.safety.helpers import at, event_data, on_treatment

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(plans, site_a, coordinator_a):
    return on_treatment(site_a, coordinator_a)


def _post_data(**overrides):
    data = event_data(**overrides)
    form = {k: ("" if v is None else v) for k, v in data.items()}
    form["onset_date"] = data["onset_date"].isoformat()
    form["awareness"] = data["awareness"].strftime("%Y-%m-%dT%H:%M")
    for flag in ("hospitalization_24h",):
        if not data[flag]:
            form.pop(flag)
    return form


def test_the_patient_page_links_to_the_adverse_events(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    page = client.get(reverse("registration:patient", kwargs={"pk": patient.pk})).content.decode()
    url = reverse("safety:patient_events", kwargs={"pk": patient.pk})
    assert f'href="{url}"' in page
    assert "Record an adverse event" in client.get(url).content.decode()


def test_record_a_grade_4_event_on_the_form(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    response = client.post(reverse("safety:event_create", kwargs={"pk": patient.pk}), _post_data())
    event = AdverseEvent.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "safety:event", kwargs={"pk": patient.pk, "event_id": event.pk})
    page = client.get(response["Location"]).content.decode()
    assert "R2b" in page and "First report" in page
    assert event.awareness == at(ORIGIN + dt.timedelta(days=11))  # entered as Japan time


@pytest.mark.parametrize(("overrides", "message"), [
    ({"grade": 5}, "Grade 5 is a death"),
    ({"grade": 7}, "from 1 to 4"),
    ({"onset_date": dt.date(2026, 1, 2)}, "before the primary registration"),
    ({"resolution_date": "2026-06-01"}, "before the onset date"),
])
def test_bad_input_on_the_form_saves_nothing_and_says_why(client, patient, coordinator_a, overrides, message):
    client.force_login(coordinator_a)
    response = client.post(reverse("safety:event_create", kwargs={"pk": patient.pk}), _post_data(**overrides))
    assert response.status_code == 200 and message in response.content.decode()
    assert not AdverseEvent.objects.exists()
    if overrides.get("grade") == 5:  # the form sends the user to record the death in follow-up
        assert reverse("followup:death", kwargs={"pk": patient.pk}) in response.content.decode()


def test_awareness_in_the_future_is_refused_on_the_form(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    future = (timezone.localtime() + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("safety:event_create", kwargs={"pk": patient.pk}),
                           {**_post_data(), "awareness": future})
    assert "in the future" in response.content.decode() and not AdverseEvent.objects.exists()


def test_roles_and_sites(client, patient, monitor_a, coordinator_b, data_manager):
    create = reverse("safety:event_create", kwargs={"pk": patient.pk})
    client.force_login(monitor_a)
    assert client.get(create).status_code == 403
    client.force_login(coordinator_b)
    assert client.get(create).status_code == 404
    assert client.get(reverse("safety:patient_events", kwargs={"pk": patient.pk})).status_code == 404
    client.force_login(data_manager)
    assert client.get(create).status_code == 403
    assert client.get(reverse("safety:patient_events", kwargs={"pk": patient.pk})).status_code == 200


def test_investigator_signs_and_data_manager_acknowledges_on_the_pages(client, patient, coordinator_a, investigator_a,
                                                                      data_manager):
    event = services.record_event(patient=patient, data=event_data(), user=coordinator_a)
    url = reverse("safety:event", kwargs={"pk": patient.pk, "event_id": event.pk})
    client.force_login(coordinator_a)
    assert "sign-report" not in client.get(url).content.decode()  # a coordinator does not sign reports
    sign = reverse("safety:report_sign", kwargs={"pk": patient.pk, "event_id": event.pk})
    assert client.post(sign).status_code == 403
    client.force_login(investigator_a)
    assert "sign-report" in client.get(url).content.decode()
    client.post(reverse("safety:report_sign", kwargs={"pk": patient.pk, "event_id": event.pk}),
                {"kind": "first", "narrative": "Admitted with febrile neutropenia.", "password": PASSWORD})
    report = ExpeditedReport.objects.get()
    client.force_login(data_manager)
    client.post(reverse("safety:report_acknowledge", kwargs={"pk": patient.pk, "event_id": event.pk,
                                                             "report_id": report.pk}), {"comment": "Received."})
    report.refresh_from_db()
    assert report.acknowledgement == "Received." and report.acknowledged_by == data_manager
    assert "Acknowledged by the study office" in client.get(url).content.decode()


def test_a_death_recorded_in_follow_up_asks_for_its_safety_assessment(client, patient, coordinator_a):
    client.force_login(coordinator_a)
    day = ORIGIN + dt.timedelta(days=20)
    response = client.post(reverse("followup:death", kwargs={"pk": patient.pk}),
                           {"date": day.isoformat(), "cause": "other", "details": ""})
    assessment = reverse("safety:death_assessment", kwargs={"pk": patient.pk})
    assert response.status_code == 302 and response["Location"] == assessment
    # Until it is assessed, the worklist and the patient's safety page say so.
    assert "waits for its safety assessment" in client.get(reverse("home")).content.decode()
    response = client.post(assessment, {"causality": "unlikely",
                                        "awareness": at(day + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    event = AdverseEvent.objects.get()
    assert (event.death, event.rule, event.reportable) == (Death.objects.get(), "R1b", True)
    assert "waits for its safety assessment" not in client.get(reverse("home")).content.decode()


def _events(patient, user, n):
    for i in range(n):
        grade = 1 + i % 4
        services.record_event(patient=patient, data=event_data(term=f"Event {i}", grade=grade,
                                                               hospitalization_24h=grade == 4), user=user)


def test_sae_log_scope_filters_csv_and_bounded_queries(client, plans, patient, site_b, coordinator_a, coordinator_b,
                                                       data_manager, django_assert_max_num_queries):
    other = on_treatment(site_b, coordinator_b)
    _events(patient, coordinator_a, 4)
    _events(other, coordinator_b, 2)
    client.force_login(coordinator_a)
    page = client.get(reverse("safety:log")).content.decode()
    assert patient.screening_number in page and other.screening_number not in page
    client.force_login(data_manager)
    page = client.get(reverse("safety:log")).content.decode()
    assert patient.screening_number in page and other.screening_number in page
    page = client.get(reverse("safety:log") + f"?site={site_b.pk}").content.decode()
    assert patient.screening_number not in page and other.screening_number in page
    page = client.get(reverse("safety:log") + "?grade=4").content.decode()
    assert "Event 3" in page and "Event 0" not in page
    response = client.get(reverse("safety:log_csv") + "?serious=on")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("site,screening_number") and len(lines) == 1 + 1  # the one Grade 4 event
    with django_assert_max_num_queries(12) as bounded:
        client.get(reverse("safety:log"))
    small = len(bounded.captured_queries)
    _events(patient, coordinator_a, 12)
    with django_assert_max_num_queries(small):
        assert client.get(reverse("safety:log")).status_code == 200


def test_frequency_by_grade_by_arm_for_the_statistician_only(client, patient, coordinator_a, data_manager,
                                                             statistician):
    _events(patient, coordinator_a, 4)
    client.force_login(data_manager)
    page = client.get(reverse("safety:frequency")).content.decode()
    assert "frequency-pooled" in page and "frequency-by-arm" not in page
    client.force_login(statistician)
    page = client.get(reverse("safety:frequency")).content.decode()
    assert "frequency-by-arm" in page and patient.screening_number not in page


def test_data_manager_dashboard_shows_overdue_reports_per_site(client, patient, coordinator_a, data_manager):
    services.record_event(patient=patient, data=event_data(), user=coordinator_a)  # awareness months ago
    client.force_login(data_manager)
    page = client.get(reverse("home")).content.decode()
    assert 'id="overdue-reports"' in page and patient.site.code in page


def test_frequency_counts_equal_a_count_of_every_event(plans, site_a, coordinator_a):
    # The table is counted in the database (issue 21); this is the plain count it must equal: events per grade,
    # patients once per grade, per arm for randomized patients only, totals over every grade.
    from collections import defaultdict

    from safety import selectors

    a, b, a2 = (on_treatment(site_a, coordinator_a, arm="A"), on_treatment(site_a, coordinator_a, arm="B"),
                on_treatment(site_a, coordinator_a, arm="A"))
    _events(a, coordinator_a, 6)  # grades 1-4 then 1-2: two events of grades 1 and 2, one patient
    _events(b, coordinator_a, 3)
    _events(a2, coordinator_a, 5)
    events, patients = defaultdict(int), defaultdict(set)
    for grade, pid, arm in AdverseEvent.objects.values_list("grade", "patient_id", "patient__allocation__arm"):
        for key in [("all", grade), *([(arm, grade)] if arm else [])]:
            events[key] += 1
            patients[key].add(pid)
    table = selectors.frequency_by_grade(by_arm=True)
    assert [(g["grade"], g["events"], g["patients"]) for g in table["grades"]] == [
        (g, events["all", g], len(patients["all", g])) for g in selectors.GRADES]
    assert table["total_events"] == 14 and table["total_patients"] == 3
    assert {arm["arm"].value: [(g["events"], g["patients"]) for g in arm["grades"]] for arm in table["arms"]} == {
        arm: [(events[arm, g], len(patients[arm, g])) for g in selectors.GRADES] for arm in ("A", "B")}
    assert [g["patients"] for g in table["arms"][0]["grades"]][:4] == [2, 2, 2, 2]
    assert "arms" not in selectors.frequency_by_grade(by_arm=False)
