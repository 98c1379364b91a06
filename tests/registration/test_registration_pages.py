"""Registration pages: site isolation, monitors read only, the flows through the forms, the worklist
as home page, and bounded queries for 10 and 500 patients."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oligami_site.models import SignatureFailure
from registration.models import PrimaryRegistration, ResponseEvaluation, SecondaryRegistration
from registration.views import WORKLIST_PAGE_SIZE
from screening.models import Patient
from tests.factories import PASSWORD, MembershipFactory
from tests.registration.factories import (
    JUDGED_ON,
    bulk_patients,
    make_eligible_screening,
    record,
    record_courses,
    register,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
READ_PAGES = ["patient", "certificate"]
WRITE_PAGES = ["primary", "evaluation", "secondary", "off_study"]


def url(name, patient):
    return reverse(f"registration:{name}", kwargs={"pk": patient.pk})


@pytest.fixture
def registered_a(plans, coordinator_a, site_a):
    """A patient of site A, primary registered and evaluated (every page has something to show)."""
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY, courses_given=3)
    return Patient.objects.get(pk=patient.pk)


def _state():
    return (PrimaryRegistration.objects.count(), ResponseEvaluation.objects.count(),
            SecondaryRegistration.objects.count(), list(Patient.objects.values_list("stage", flat=True)))


def test_another_site_gets_404_on_every_registration_url(client, registered_a, coordinator_b):
    client.force_login(coordinator_b)
    before = _state()
    for name in READ_PAGES + WRITE_PAGES:
        assert client.get(url(name, registered_a)).status_code == 404, name
        assert client.post(url(name, registered_a), {"password": PASSWORD}).status_code == 404, name
    assert _state() == before
    assert "SITEA" not in client.get("/").content.decode()


@pytest.mark.parametrize("who", ["monitor", "data_manager"])
def test_readers_read_and_never_write(client, registered_a, monitor_a, data_manager, who):
    client.force_login(monitor_a if who == "monitor" else data_manager)
    before = _state()
    for name in READ_PAGES:
        assert client.get(url(name, registered_a)).status_code == 200, name
    for name in WRITE_PAGES:
        assert client.get(url(name, registered_a)).status_code == 403, name
        assert client.post(url(name, registered_a), {"password": PASSWORD, "reason": "x"}).status_code == 403, name
    assert _state() == before
    html = client.get(url("patient", registered_a)).content.decode()
    for name in WRITE_PAGES:  # the next step is named for readers (issue 15), never linked
        assert f'href="{url(name, registered_a)}"' not in html and f'href="{url(name, registered_a)}?' not in html, name
    assert 'id="next-step"' not in html


def test_primary_registration_page_signs_and_shows_the_certificate(client, plans, coordinator_a, site_a):
    patient = make_eligible_screening(site=site_a, on=timezone.localdate() - 2 * DAY).patient
    client.force_login(coordinator_a)
    html = client.get(url("primary", patient)).content.decode()
    assert "All primary registration criteria are met today." in html
    assert "I confirm this patient meets all primary registration criteria" in html
    assert 'type="password"' in html and "P16" in html
    response = client.post(url("primary", patient), {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == url("certificate", patient)
    html = response.content.decode()
    assert "OLG-0001" in html and patient.screening_number in html and "Site A Hospital" in html
    assert "I confirm this patient meets all primary registration criteria" in html
    assert "registration/print.css" in html and 'media="print"' in html and "style=" not in html
    # The double submit of the same form (a second tab): one registration, a clear message.
    response = client.post(url("primary", patient), {"password": PASSWORD})
    assert "already primary registered as OLG-0001" in response.content.decode()
    assert PrimaryRegistration.objects.count() == 1


def test_wrong_password_on_the_page(client, plans, coordinator_a, site_a):
    patient = make_eligible_screening(site=site_a, on=timezone.localdate() - 2 * DAY).patient
    client.force_login(coordinator_a)
    response = client.post(url("primary", patient), {"password": "not-mine"}, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 200
    assert "The password is not correct: nothing was signed or saved." in response.content.decode()
    assert not PrimaryRegistration.objects.exists()
    assert SignatureFailure.objects.get().ip_address == "10.9.8.7"


def test_out_of_order_posts_get_a_message(client, plans, coordinator_a, site_a):
    client.force_login(coordinator_a)
    failed = make_eligible_screening(site=site_a, lvef_percent=50).patient  # a screen failure (P17)
    eligible = make_eligible_screening(site=site_a).patient
    evaluation = {"date": "2026-05-27", "overall_response": "PR", "progression": "no", "new_distant_metastasis": "no",
                  "remaining_lesions": "1", "courses_given": "3", "mdt_since_primary": "no", "ecog": "0",
                  "labs-date": "2026-05-27", "labs-anc": "3000"}
    for patient in (failed, eligible):
        html = client.post(url("evaluation", patient), evaluation).content.decode()
        assert "is not primary registered" in html and "a response evaluation comes after primary registration" in html
    html = client.post(url("secondary", eligible), {"password": PASSWORD}).content.decode()
    assert "is not primary registered" in html
    html = client.post(url("off_study", eligible), {"date": "2026-03-03", "reason": "withdrawal"}).content.decode()
    assert "off study is recorded after primary registration" in html
    assert not ResponseEvaluation.objects.exists() and not SecondaryRegistration.objects.exists()


def test_evaluation_and_secondary_pages(client, plans, coordinator_a, site_a):
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record_courses(patient, coordinator_a, 3, today - 2 * DAY)  # S1 from the recorded courses (issue 16)
    client.force_login(coordinator_a)
    form = {"date": (today - 2 * DAY).isoformat(), "overall_response": "SD", "progression": "no",
            "new_distant_metastasis": "no", "remaining_lesions": "2",
            "mdt_since_primary": "no", "ecog": "1", "labs-date": (today - DAY).isoformat(), "labs-anc": "2500",
            "labs-hemoglobin": "11", "labs-platelets": "200000", "labs-bilirubin": "0.5", "labs-ast": "30",
            "labs-alt": "30", "labs-creatinine": "0.9"}
    response = client.post(url("evaluation", patient), form)
    assert response.status_code == 302
    html = client.get(url("evaluation", patient)).content.decode()
    assert "Reason for the change" in html  # a second save is a correction
    html = client.get(url("secondary", patient)).content.decode()
    assert "All secondary registration criteria are met today." in html
    assert "3 of 3 planned courses recorded from primary registration" in html
    assert "I confirm this patient meets all secondary registration criteria" in html
    assert (today - 6 * DAY).isoformat() in html  # day 84
    response = client.post(url("secondary", patient), {"password": PASSWORD}, follow=True)
    html = response.content.decode()
    # Secondary registration ends on the randomization result page (randomized in the same step).
    assert "Allocated arm" in html and "Secondary registration signed and the patient randomized." in html


def test_off_study_page(client, registered_a, coordinator_a):
    client.force_login(coordinator_a)
    response = client.post(url("off_study", registered_a), {"date": "2026-04-01", "reason": "withdrawal",
                                                            "details": "moved away"})
    assert response.status_code == 302
    html = client.get(url("patient", registered_a)).content.decode()
    assert "Withdrawal of consent" in html and "moved away" in html and "Off study" in html


def test_patient_page_shows_records_signature_timeline_and_status(client, registered_a, coordinator_a):
    client.force_login(coordinator_a)
    html = client.get(url("patient", registered_a)).content.decode()
    assert "OLG-0001" in html and coordinator_a.printed_name in html
    assert "I confirm this patient meets all primary registration criteria" in html
    assert "<svg" in html and "Day 84" in html and "Day 126" in html and "Evaluation + 28" in html
    assert "Today" in html and 'class="tl-course tl-course-0"' in html
    assert "style=" not in html
    assert 'id="patient-status"' in html


def test_worklist_is_the_home_page_sorted_by_deadline(client, plans, coordinator_a, site_a, site_b, coordinator_b):
    today = timezone.localdate()
    closing = register(make_eligible_screening(site=site_a, on=today - 120 * DAY), coordinator_a).patient
    record(closing, coordinator_a, today - 10 * DAY, labs_on=today - 3 * DAY, courses_given=3)  # closes in 6 days
    therapy = register(make_eligible_screening(site=site_a, on=today - 10 * DAY), coordinator_a).patient
    eligible = make_eligible_screening(site=site_a, on=today - DAY, labs_on=today - 5 * DAY).patient  # 9 days
    other = make_eligible_screening(site=site_b, on=today - DAY).patient
    client.force_login(coordinator_a)
    html = client.get("/").content.decode()
    assert "Worklist" in html and "Clinical research coordinator" in html
    positions = [html.index(p.screening_number) for p in (closing, eligible, therapy)]
    assert positions == sorted(positions)
    assert other.screening_number not in html
    assert "Secondary registration window closing: 1" in html and "On systemic therapy: 1" in html
    assert "6 days" in html and "9 days" in html
    assert url("primary", eligible) in html and url("secondary", closing) in html


def _count_queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("n", [10, 500])
def test_worklist_and_patient_page_queries_are_bounded(client, plans, coordinator_a, site_a, site_b,
                                                       django_assert_max_num_queries, n):
    today = timezone.localdate()
    patients = bulk_patients(site_a, n, plan=plans["luminal"], user=coordinator_a, today=today)
    bulk_patients(site_b, 5, plan=plans["luminal"], user=coordinator_a, today=today, start=1)
    client.force_login(coordinator_a)
    # 14: 12, one for the recently randomized with their arm (issue 15), and the re-consent list's one (the
    # consent document versions; docs/sites-and-consent.md); 16: and the expedited safety reports' card, two
    # (the open report deadlines, the deaths waiting for their safety assessment; docs/safety.md); 17: the
    # worklist sorts and counts every patient's key in one query and reads its page's rows in another
    # (docs/performance.md, issue 21)
    with django_assert_max_num_queries(17):
        response = client.get("/")
    # one row each, site A, a page at a time (the worklist paginates: docs/performance.md)
    assert response.content.decode().count('class="btn btn-sm btn-outline-primary"') == min(n, WORKLIST_PAGE_SIZE)
    worklist = _count_queries(client, "/")
    registered = next(p for p in patients if p.stage == Patient.Stage.REGISTERED)
    with django_assert_max_num_queries(12):
        client.get(url("patient", registered))
    page = _count_queries(client, url("patient", registered))
    print(f"\nqueries with {n} patients: worklist {worklist}, patient page {page}")
    assert worklist <= 17 and page <= 12


def test_worklist_for_a_monitor_links_to_the_patient_page(client, registered_a, site_a):
    monitor = MembershipFactory(site=site_a, role="monitor", user__username="mon2").user
    client.force_login(monitor)
    html = client.get("/").content.decode()
    assert registered_a.screening_number in html
    assert url("evaluation", registered_a) not in html and url("patient", registered_a) in html


def test_a_double_submit_whose_first_request_committed_shows_the_result(client, plans, coordinator_a, site_a):
    """The first POST committed (secondary registration and randomization) and its worker died before
    answering; the browser's repeated POST leads to the existing allocation's result, not a refusal."""
    from randomization.models import Allocation
    from registration import services
    from tests.randomization.factories import minimization_config

    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)  # the first request
    allocation = Allocation.objects.get(patient=patient)
    client.force_login(coordinator_a)
    response = client.post(url("secondary", patient), {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("randomization:result", kwargs={"patient_id": patient.pk})
    html = client.get(response["Location"]).content.decode()
    assert "was already secondary registered and randomized" in html and "changed nothing" in html
    assert "Allocated arm" in html
    assert Allocation.objects.count() == 1 and Allocation.objects.get().pk == allocation.pk
    assert SecondaryRegistration.objects.count() == 1


def test_a_repeated_submit_with_a_wrong_password_is_still_refused(client, plans, coordinator_a, site_a):
    """Only a signer who proves who they are is shown the result this way; a wrong password stays a refusal."""
    from registration import services
    from tests.randomization.factories import minimization_config

    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    client.force_login(coordinator_a)
    response = client.post(url("secondary", patient), {"password": "wrong"})
    assert response.status_code == 200 and "password is not correct" in response.content.decode()
