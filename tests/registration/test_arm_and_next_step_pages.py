"""Issue 15's blockers on the pages: the allocated arm where the site looks (patient page, patient list,
worklist, screening page), the randomization result linked, its printable certificate without allocation
internals, and the one next step of every stage as the patient page's primary button. Bounded queries."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from randomization.models import Allocation
from registration import services
from registration.models import OffStudy
from screening.models import Patient
from tests.factories import PASSWORD, PatientFactory, ScreeningFactory
from tests.registration.factories import (
    JUDGED_ON,
    bulk_randomized,
    make_eligible_screening,
    record,
    register,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def randomized(site, user):
    """Through the services, as the authorization matrix's scene: screened, registered twice, randomized."""
    patient = register(make_eligible_screening(site=site), user).patient
    record(patient, user, JUDGED_ON + 85 * DAY)
    services.register_secondary(patient=patient, user=user, password=PASSWORD, registration_date=JUDGED_ON + 86 * DAY)
    return Patient.objects.get(pk=patient.pk)


def page(client, name, patient, **kwargs):
    response = client.get(reverse(name, kwargs={"pk": patient.pk}), **kwargs)
    assert response.status_code == 200
    return response.content.decode()


def next_button(html):
    """(data-step, href) of the patient page's primary next-step button, or None."""
    found = re.search(r'<a class="btn btn-primary" href="([^"]+)" id="next-step" data-step="(\w+)">', html)
    return (found.group(2), found.group(1).replace("&amp;", "&")) if found else None


# --- the arm ----------------------------------------------------------------------------------------


def test_patient_page_shows_the_arm_and_links_the_result_and_the_certificate(client, plans, coordinator_a, site_a):
    patient = randomized(site_a, coordinator_a)
    arm = Allocation.objects.get(patient=patient).arm
    client.force_login(coordinator_a)
    html = page(client, "registration:patient", patient)
    block = html[html.index('id="allocated-arm"'):]
    block = block[:block.index("</div>\n</div>")]
    assert f'data-arm="{arm}"' in html and f"Arm {arm}" in block
    assert ("Systemic therapy alone" if arm == "A" else "Systemic therapy + metastasis-directed therapy") in block
    assert "JST" in block
    assert reverse("randomization:result", kwargs={"patient_id": patient.pk}) in block
    assert reverse("registration:randomization_certificate", kwargs={"pk": patient.pk}) in block
    assert f'id="arm-badge">Arm {arm}</span>' in html  # beside the patient's number in the heading


def test_the_arm_in_japanese_uses_the_glossary(client, plans, coordinator_a, site_a):
    patient = randomized(site_a, coordinator_a)
    arm = Allocation.objects.get(patient=patient).arm
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    html = page(client, "registration:patient", patient)
    assert f"{arm}群" in html and "割付群" in html
    assert ("全身療法単独" if arm == "A" else "全身療法＋転移巣に対する局所治療") in html
    certificate = page(client, "registration:randomization_certificate", patient)
    assert "ランダム化" in certificate and f"{arm}群" in certificate and "Arm " not in certificate


def test_patient_list_screening_page_and_result_page_show_and_link_the_arm(client, plans, coordinator_a, site_a):
    patient = randomized(site_a, coordinator_a)
    arm = Allocation.objects.get(patient=patient).arm
    client.force_login(coordinator_a)
    result_url = reverse("randomization:result", kwargs={"patient_id": patient.pk})
    listing = client.get(reverse("screening:patient_list")).content.decode()
    assert f'href="{result_url}" data-arm="{arm}">Arm {arm}</a>' in listing
    detail = page(client, "screening:patient_detail", patient)
    assert f'data-arm="{arm}">Arm {arm}</a>' in detail and reverse("registration:patient", kwargs={
        "pk": patient.pk}) in detail
    result = client.get(result_url).content.decode()
    assert reverse("registration:randomization_certificate", kwargs={"pk": patient.pk}) in result
    assert reverse("registration:patient", kwargs={"pk": patient.pk}) in result


def test_worklist_lists_the_recently_randomized_with_their_arm(client, plans, coordinator_a, coordinator_b, site_a,
                                                               site_b):
    today = timezone.localdate()
    mine = bulk_randomized(site_a, 3, plan=plans["luminal"], user=coordinator_a, today=today)
    theirs = bulk_randomized(site_b, 1, plan=plans["luminal"], user=coordinator_b, today=today, start=100)
    old = bulk_randomized(site_a, 1, plan=plans["luminal"], user=coordinator_a, today=today - 60 * DAY, start=200)
    client.force_login(coordinator_a)
    html = client.get("/").content.decode()
    table = html[html.index('id="recently-randomized-table"'):]
    table = table[:table.index("</table>")]
    for k, patient in enumerate(mine):
        arm = "AB"[k % 2]
        assert f'<tr data-arm="{arm}">' in table and patient.screening_number in table
        assert reverse("randomization:result", kwargs={"patient_id": patient.pk}) in table
        assert reverse("registration:randomization_certificate", kwargs={"pk": patient.pk}) in table
    assert "Arm A" in table and "Arm B" in table
    assert theirs[0].screening_number not in html  # another site's
    assert old[0].screening_number not in table  # randomized 60 days ago


def test_assessments_due_on_the_worklist_show_the_arm(client, plans, coordinator_a, data_manager, site_a):
    from followup import services as followup_services
    from followup.models import ScheduleRule

    followup_services.save_schedule_rule(rule=ScheduleRule(from_day=0, interval_days=84, window_days=14),
                                         user=data_manager, reason="Example")
    patient = randomized(site_a, coordinator_a)  # randomized 2026-05-27: assessments overdue since
    arm = Allocation.objects.get(patient=patient).arm
    client.force_login(coordinator_a)
    html = client.get("/").content.decode()
    table = html[html.index('id="assessments-due-table"'):]
    row = table[table.index(patient.screening_number):table.index("</tr>", table.index(patient.screening_number))]
    assert f"Arm {arm}</span>" in row


# --- the certificate --------------------------------------------------------------------------------


def test_certificate_shows_the_arm_signature_and_factors_and_no_allocation_internals(
        client, plans, coordinator_a, site_a):
    patient = randomized(site_a, coordinator_a)
    record_ = Allocation.objects.get(patient=patient)
    client.force_login(coordinator_a)
    html = page(client, "registration:randomization_certificate", patient)
    assert f'data-arm="{record_.arm}"' in html and f"Arm {record_.arm}" in html
    assert "OLIGAMI (JCOG2110) randomization certificate" in html
    assert patient.primary_registration.number in html and patient.screening_number in html
    assert timezone.localtime(record_.allocated_at, dt.timezone(dt.timedelta(hours=9))).strftime(
        "%Y-%m-%d %H:%M") + "</time> JST" in html
    assert coordinator_a.printed_name in html and "I confirm this patient meets all secondary registration" in html
    assert "Subtype" in html and "luminal" in html and "SITEA" in html  # the factors: the patient's own facts
    assert "data-print" in html and "registration/print.css" in html
    # Allocation internals are the statistician's (DESIGN.md "Blinding of results"): none on the page.
    for internal in ("preferred", "Preferred", "uniform draw", "counts before", "imbalance", "stratum", "hash",
                     record_.hash, repr(record_.u), str(record_.u)[:8]):
        assert internal not in html, internal
    assert str(record_.counts_before) not in html


def test_certificate_is_404_before_randomization_and_for_another_site(client, plans, coordinator_a, coordinator_b,
                                                                      statistician, monitor_a, data_manager, site_a):
    registered = register(make_eligible_screening(site=site_a), coordinator_a).patient
    patient = randomized(site_a, coordinator_a)
    url = reverse("registration:randomization_certificate", kwargs={"pk": patient.pk})
    client.force_login(coordinator_a)
    assert client.get(reverse("registration:randomization_certificate", kwargs={"pk": registered.pk})
                      ).status_code == 404
    for user, expected in ((coordinator_b, 404), (statistician, 404), (monitor_a, 200), (data_manager, 200)):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == expected, user
        if expected == 404:
            assert patient.screening_number not in response.content.decode()


# --- the one next step ------------------------------------------------------------------------------


def test_next_step_per_stage_on_the_patient_page(client, plans, coordinator_a, site_a):
    today = timezone.localdate()
    client.force_login(coordinator_a)

    unscreened = PatientFactory(site=site_a)
    assert next_button(page(client, "registration:patient", unscreened)) == (
        "start_screening", reverse("screening:screening_create", kwargs={"pk": unscreened.pk}))

    draft = ScreeningFactory(patient__site=site_a, ecog=None)  # stage screening, a fact missing
    assert next_button(page(client, "registration:patient", draft.patient)) == (
        "continue_screening", reverse("screening:screening_edit", kwargs={"pk": draft.pk}))

    failed = make_eligible_screening(site=site_a, ecog=3).patient  # ECOG 3: not met
    assert failed.stage == Patient.Stage.SCREEN_FAILED
    assert next_button(page(client, "registration:patient", failed)) == (
        "review_screening", reverse("screening:patient_detail", kwargs={"pk": failed.pk}))

    eligible = make_eligible_screening(site=site_a, on=today - DAY, labs_on=today - 5 * DAY).patient
    assert next_button(page(client, "registration:patient", eligible)) == (
        "register_primary", reverse("registration:primary", kwargs={"pk": eligible.pk}))

    on_therapy = register(make_eligible_screening(site=site_a, on=today - 10 * DAY), coordinator_a).patient
    assert next_button(page(client, "registration:patient", on_therapy)) == (
        "record_evaluation", reverse("registration:evaluation", kwargs={"pk": on_therapy.pk}))

    window = register(make_eligible_screening(site=site_a, on=today - 100 * DAY), coordinator_a).patient
    record(window, coordinator_a, today - 5 * DAY, courses_given=3)
    assert next_button(page(client, "registration:patient", window)) == (
        "register_secondary", reverse("registration:secondary", kwargs={"pk": window.pk}))

    progression = register(make_eligible_screening(site=site_a, on=today - 100 * DAY), coordinator_a).patient
    record(progression, coordinator_a, today - 5 * DAY, courses_given=3, progression=True, overall_response="PD")
    step, href = next_button(page(client, "registration:patient", progression))
    assert step == "off_study_progression" and href.endswith(f"?reason={OffStudy.Reason.PROGRESSION}")

    missed = register(make_eligible_screening(site=site_a), coordinator_a).patient  # 2026-03-02: long past
    record(missed, coordinator_a, JUDGED_ON + 85 * DAY)
    assert next_button(page(client, "registration:patient", missed)) == (
        "off_study", reverse("registration:off_study", kwargs={"pk": missed.pk}))

    done = randomized(site_a, coordinator_a)
    assert next_button(page(client, "registration:patient", done)) == (
        "follow_up", reverse("followup:patient", kwargs={"pk": done.pk}))

    services.take_off_study(patient=missed, user=coordinator_a, date=today, reason=OffStudy.Reason.OTHER,
                            details="Window missed")
    html = page(client, "registration:patient", missed)
    assert next_button(html) is None and 'id="next-step-block"' not in html
    # Exactly one primary button on every page: the next step.
    for patient in (unscreened, eligible, on_therapy, window, done):
        assert page(client, "registration:patient", patient).count('class="btn btn-primary"') == 1


def test_the_next_step_leads_on(client, plans, coordinator_a, site_a):
    """Following the button opens a page that accepts the step (200), for every stage before randomization."""
    today = timezone.localdate()
    client.force_login(coordinator_a)
    eligible = make_eligible_screening(site=site_a, on=today - DAY, labs_on=today - 5 * DAY).patient
    window = register(make_eligible_screening(site=site_a, on=today - 100 * DAY), coordinator_a).patient
    record(window, coordinator_a, today - 5 * DAY, labs_on=today - 3 * DAY, courses_given=3)
    for patient in (eligible, window):
        _step, href = next_button(page(client, "registration:patient", patient))
        target = client.get(href).content.decode()
        assert 'id="sign-primary"' in target or 'id="sign-secondary"' in target


def test_readers_see_the_next_step_named_without_a_button(client, plans, coordinator_a, monitor_a, site_a):
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 10 * DAY), coordinator_a).patient
    client.force_login(monitor_a)
    html = page(client, "registration:patient", patient)
    assert next_button(html) is None
    assert 'id="next-step-text" data-step="record_evaluation">Record response evaluation<' in html
    assert reverse("registration:evaluation", kwargs={"pk": patient.pk}) not in html


# --- bounded queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 60])
def test_arm_pages_queries_do_not_grow_with_patients(client, plans, coordinator_a, site_a,
                                                     django_assert_max_num_queries, n):
    today = timezone.localdate()
    patients = bulk_randomized(site_a, n, plan=plans["luminal"], user=coordinator_a, today=today)
    client.force_login(coordinator_a)
    with django_assert_max_num_queries(16):  # 13, the re-consent list (issue 17), the safety card (2, docs/safety.md)
        worklist = client.get("/").content.decode()
    assert worklist.count("<tr data-arm=") == min(n, 20)
    # 11, and the next-deadline column's sources for randomized rows (issue 20): the schedule of assessments
    # (1 without a schedule, 3 with one) and the expedited reports (1)
    with django_assert_max_num_queries(15):
        listing = client.get(reverse("screening:patient_list")).content.decode()
    assert listing.count('class="badge text-bg-primary text-decoration-none arm-badge"') == min(n, 50)
    with django_assert_max_num_queries(14):
        html = page(client, "registration:patient", patients[-1])
    assert 'id="allocated-arm"' in html
    with django_assert_max_num_queries(12):
        page(client, "registration:randomization_certificate", patients[-1])
