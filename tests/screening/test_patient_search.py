"""Find a patient: the patient list searched by screening number, registration number or initials (and from
the navigation bar, straight to a single hit), its registration number and arm columns, within the user's
sites only, bounded queries; the worklist's filters (status, site, due within N days)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from registration import services as registration_services
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
LIST = "/screening/patients/"


@pytest.fixture
def patients(site_a, site_b, coordinator_a, coordinator_b):
    """At site A: one randomized (initials KT), one primary registered (initials MS); at site B: one registered."""
    make_plans()
    minimization_config()
    today = timezone.localdate()
    randomized = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(randomized, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.register_secondary(patient=randomized, user=coordinator_a, password=PASSWORD)
    registered = register(make_eligible_screening(site=site_a, on=today - 20 * DAY), coordinator_a).patient
    other = register(make_eligible_screening(site=site_b, on=today - 20 * DAY), coordinator_b).patient
    for patient, initials in ((randomized, "KT"), (registered, "MS"), (other, "KT")):
        patient.initials = initials
        patient.save(update_fields=["initials"])
    for patient in (randomized, registered, other):
        patient.refresh_from_db()
    return {"randomized": randomized, "registered": registered, "other": other}


def found(client, **params):
    response = client.get(LIST, params)
    assert response.status_code == 200
    return [p.screening_number for p in response.context["page"]]


def test_search_by_screening_registration_number_and_initials(client, patients, coordinator_a):
    client.force_login(coordinator_a)
    randomized, registered = patients["randomized"], patients["registered"]
    assert found(client, q=randomized.screening_number) == [randomized.screening_number]
    assert found(client, q=randomized.screening_number[-4:].lower()) == [randomized.screening_number]
    assert found(client, q=registered.primary_registration.number) == [registered.screening_number]
    assert found(client, q="kt") == [randomized.screening_number]  # initials, any case; not site B's KT
    assert found(client, q="MS") == [registered.screening_number]


def test_another_sites_patient_is_never_found(client, patients, coordinator_a):
    client.force_login(coordinator_a)
    other = patients["other"]
    assert found(client, q=other.screening_number) == []
    assert found(client, q=other.primary_registration.number) == []
    response = client.get(LIST, {"q": other.screening_number, "go": "1"})
    assert response.status_code == 200 and list(response.context["page"]) == []


def test_the_navigation_search_opens_a_single_hit(client, patients, coordinator_a, data_manager):
    client.force_login(coordinator_a)
    randomized = patients["randomized"]
    response = client.get(LIST, {"q": randomized.primary_registration.number, "go": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:patient_detail", args=[randomized.pk])
    client.force_login(data_manager)  # every site: KT is at A and B, so the list shows both
    response = client.get(LIST, {"q": "KT", "go": "1"})
    assert response.status_code == 200 and len(response.context["page"]) == 2
    assert 'id="nav-search"' in response.content.decode()


@pytest.mark.parametrize("q", ["x" * 41, "%", "'; DROP TABLE screening_patient; --", "\\", "🙂", "_"])
def test_bad_searches_get_an_answer_not_an_error(client, patients, coordinator_a, q):
    client.force_login(coordinator_a)
    response = client.get(LIST, {"q": q, "go": "1", "stage": "nonsense", "page": "-3"})
    assert response.status_code == 200
    if len(q) > 40:
        assert list(response.context["page"]) == [] and "40" in response.content.decode()


def test_the_list_shows_registration_number_and_arm_when_randomized(client, patients, coordinator_a):
    client.force_login(coordinator_a)
    html = client.get(LIST).content.decode()
    randomized, registered = patients["randomized"], patients["registered"]
    assert randomized.primary_registration.number in html and registered.primary_registration.number in html
    rows = {p.screening_number: p for p in client.get(LIST).context["page"]}
    assert rows[randomized.screening_number].arm == randomized.allocation.arm
    assert rows[registered.screening_number].arm is None


def test_the_search_is_query_bounded(client, patients, coordinator_a, site_a, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(coordinator_a)
    client.get(LIST)  # session and caches warm

    def count(**params):
        with CaptureQueriesContext(connection) as queries:
            client.get(LIST, params)
        return len(queries)

    before = (count(q="SITEA"), count())
    for _ in range(5):
        register(make_eligible_screening(site=site_a, on=timezone.localdate() - 10 * DAY), coordinator_a)
    assert (count(q="SITEA"), count()) == before  # the same whatever the number of patients
    # Session, user, groups, memberships, sites; count and page; the next-deadline column's three sources
    # (registration's windows, followup's schedule, safety's reports: issue 20); the new-patient button's
    # site check; the session's save (savepoint, update, release).
    with django_assert_max_num_queries(14):
        client.get(LIST, {"q": "SITEA"})


def statuses(client, **params):
    response = client.get(reverse("home"), params)
    assert response.status_code == 200
    return [(row.patient.screening_number, row.status) for row in response.context["rows"]]


def test_worklist_filters_status_site_and_due_within(client, patients, coordinator_a, site_b):
    from oligami_site.models import Membership

    Membership.objects.create(user=coordinator_a, site=site_b, role="coordinator")
    client.force_login(coordinator_a)
    everything = statuses(client)
    registered, other = patients["registered"], patients["other"]
    assert {registered.screening_number, other.screening_number} <= {n for n, _s in everything}
    status = dict(everything)[registered.screening_number]
    assert all(s == status for _n, s in statuses(client, status=status))
    assert {n for n, _s in statuses(client, site=site_b.pk)} == {other.screening_number}
    rows = client.get(reverse("home"), {"due": "3"}).context["rows"]
    assert all(r.days_left is not None and r.days_left <= 3 for r in rows)
    due_all = client.get(reverse("home"), {"due": "366"}).context["rows"]
    assert {r.patient.screening_number for r in due_all} >= {registered.screening_number}
    # Nonsense is ignored with a message, never a 500.
    response = client.get(reverse("home"), {"due": "-1", "status": "nope", "site": "abc"})
    assert response.status_code == 200 and len(response.context["rows"]) == len(everything)
