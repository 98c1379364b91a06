"""The per-patient audit trail page: every change of every record, field by field, with user, Tokyo time
and reason; signatures and allocation; who may see it; bounded queries; linked from the patient pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registration import services as registration_services
from screening import services
from screening.models import LabPanel
from tests.factories import PASSWORD, MembershipFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def trail_url(patient):
    return reverse("oversight:trail", args=[patient.pk])


@pytest.fixture
def plans(db):
    return make_plans()


@pytest.fixture
def randomized_a(plans, site_a, coordinator_a):
    """Registered, evaluated, the creatinine corrected once, secondary registered and randomized."""
    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.record_evaluation(
        patient=patient, data={"date": today - 2 * DAY, "overall_response": "PR", "progression": False,
                               "new_distant_metastasis": False, "remaining_lesions": 2, "courses_given": 3,
                               "mdt_since_primary": False, "ecog": 0},
        labs={"date": today - 2 * DAY, "anc": Decimal("3000"), "hemoglobin": Decimal("12.0"),
              "platelets": Decimal("220000"), "bilirubin": Decimal("0.6"), "ast": Decimal("20"), "alt": Decimal("20"),
              "creatinine": Decimal("1.30")},
        user=coordinator_a, reason="Creatinine re-measured")
    registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    patient.refresh_from_db()
    return patient


def test_the_trail_answers_who_changed_the_creatinine_when_and_why(client, randomized_a, coordinator_a,
                                                                   data_manager):
    client.force_login(data_manager)
    response = client.get(trail_url(randomized_a))
    assert response.status_code == 200
    html = response.content.decode()
    panel = LabPanel.objects.get(pk=randomized_a.response_evaluation.labs_id)
    change = panel.history.first()
    tokyo = timezone.localtime(change.history_date, timezone=dt.timezone(dt.timedelta(hours=9)))
    assert tokyo.strftime("%Y-%m-%d %H:%M:%S") in html  # shown in Japan Standard Time
    assert "creatinine (mg/dL)</span>: <del>0.80</del> → <ins>1.30</ins>" in html
    assert "Creatinine re-measured" in html and f"{coordinator_a.printed_name} (crc_a)" in html
    # Choice labels, not codes; the stage moves with their reasons.
    assert "Primary registered, on systemic therapy" in html and "Randomized" in html
    # The signatures (printed name, time, meaning) and the allocation.
    signatures = response.context["trail"].signatures
    assert [s.kind for s in signatures] == ["primary_registration", "secondary_registration"]
    assert "I confirm this patient meets all secondary registration criteria" in html
    allocation = randomized_a.allocation
    assert allocation.hash in html and allocation.get_arm_display() in html
    # Time order across every record.
    whens = [e.when for e in response.context["trail"].entries]
    assert whens == sorted(whens)
    kinds = {e.record_type for e in response.context["trail"].entries}
    assert {"patient", "screening", "lesion", "labpanel", "primary", "evaluation", "secondary", "signature",
            "allocation"} <= kinds


def test_the_trail_can_show_one_kind_of_record(client, randomized_a, data_manager):
    client.force_login(data_manager)
    response = client.get(trail_url(randomized_a), {"record": "labpanel"})
    entries = response.context["trail"].entries
    assert entries and {e.record_type for e in entries} == {"labpanel"}
    assert client.get(trail_url(randomized_a), {"record": "nonsense"}).status_code == 200


def test_a_removed_lesion_stays_in_the_trail(client, site_a, coordinator_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    first = screening.lesions.first()
    services.save_screening(patient=patient, screening=screening, data=data,
                            lesions=[{"id": first.pk, **lesions[0]}], labs=labs, user=coordinator_a,
                            reason="Lung nodule was benign")
    client.force_login(coordinator_a)
    entries = client.get(trail_url(patient), {"record": "lesion"}).context["trail"].entries
    removed = [e for e in entries if e.kind == "-"]
    assert len(removed) == 1 and removed[0].reason == "Lung nodule was benign"
    assert "Lesion 2 of screening 1" in removed[0].record


def test_who_may_see_the_trail(client, randomized_a, coordinator_a, investigator_a, monitor_a, coordinator_b,
                               data_manager, statistician, no_role_user, site_b):
    monitor_b = MembershipFactory(site=site_b, role="monitor", user__username="monitor_b").user
    url = trail_url(randomized_a)
    for user, status in [(coordinator_a, 200), (investigator_a, 200), (monitor_a, 200), (data_manager, 200),
                         (coordinator_b, 404), (monitor_b, 404), (statistician, 404), (no_role_user, 404)]:
        client.force_login(user)
        assert client.get(url).status_code == status, user
    client.force_login(data_manager)
    assert client.get(reverse("oversight:trail", args=[999999])).status_code == 404


def test_the_trail_is_linked_from_both_patient_pages(client, randomized_a, coordinator_a):
    client.force_login(coordinator_a)
    for name in ("registration:patient", "screening:patient_detail"):
        html = client.get(reverse(name, args=[randomized_a.pk])).content.decode()
        assert f'href="{trail_url(randomized_a)}"' in html, name


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_trail_queries_do_not_grow_with_the_changes(client, randomized_a, plans, site_a, coordinator_a,
                                                    data_manager, django_assert_max_num_queries):
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    client.force_login(data_manager)
    few = _queries(client, trail_url(patient))
    for n in range(40):  # 40 corrections: 80 more history rows (evaluation and lab panel)
        record(patient, coordinator_a, today - 2 * DAY, courses_given=3, reason=f"Correction {n}",
               remaining_lesions=1 + n % 2)
    with django_assert_max_num_queries(few):
        response = client.get(trail_url(patient))
    assert len(response.context["trail"].entries) > 80
    # ~23 for the trail (one per kind of record, follow-up included), the rest is the session
    with django_assert_max_num_queries(40):
        client.get(trail_url(randomized_a))
