"""Issue 20: the data manager's home is a trial-wide to-do; the trial-wide audit search (who, when, what, why)."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from oversight import audit_search
from screening import services as screening_services
from screening.models import Screening
from tests.registration.factories import make_eligible_screening, make_plans, register
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db


def old_draft(site, user, days_ago):
    patient = screening_services.create_patient(site=site, sex="female", birth_date=dt.date(1970, 1, 1), user=user)
    data, lesions, labs = eligible_inputs()
    data["screening_date"] = timezone.localdate() - dt.timedelta(days=days_ago)
    screening = screening_services.save_screening(patient=patient, data=data, lesions=lesions, labs=None, user=user)
    assert screening.outcome == Screening.Outcome.DRAFT
    return screening


def test_the_data_managers_home_is_a_trial_wide_todo(client, site_a, site_b, coordinator_a, coordinator_b,
                                                      data_manager, statistician):
    make_plans()
    register(make_eligible_screening(site=site_b), coordinator_b)  # a signature today
    stale = old_draft(site_a, coordinator_a, 20)
    old_draft(site_a, coordinator_a, 3)  # recent: not on the to-do
    AccessAttempt.objects.create(username="crc_locked", ip_address="10.0.0.1", user_agent="x",
                                 failures_since_start=9, get_data="", post_data="", http_accept="", path_info="/")
    client.force_login(data_manager)
    page = client.get(reverse("home")).content.decode()
    assert 'id="todo"' in page
    for key in ("windows", "drafts", "signatures", "locked", "sites"):
        assert f'id="todo-{key}"' in page, key
    drafts = page[page.index('id="todo-drafts"'):]
    drafts = drafts[:drafts.index("</section>")]
    assert stale.patient.screening_number in drafts and ">1</span>" in drafts
    assert "crc_locked" in page
    signatures = page[page.index('id="todo-signatures"'):]
    assert site_b.code in signatures[:signatures.index("</section>")] or "Primary" in signatures
    # Not the statistician's, and a coordinator keeps the worklist.
    client.force_login(statistician)
    assert 'id="todo"' not in client.get(reverse("home")).content.decode()
    client.force_login(coordinator_a)
    assert 'id="todo"' not in client.get(reverse("home")).content.decode()


def test_the_todo_runs_a_bounded_number_of_queries(client, site_a, coordinator_a, data_manager,
                                                   django_assert_max_num_queries):
    make_plans()
    client.force_login(data_manager)
    old_draft(site_a, coordinator_a, 30)
    client.get(reverse("home"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for days in range(15, 27):
        old_draft(site_a, coordinator_a, days)
        register(make_eligible_screening(site=site_a), coordinator_a)
    with django_assert_max_num_queries(len(few)):
        client.get(reverse("home"))


def test_audit_search_by_user_patient_dates_and_record(client, site_a, site_b, coordinator_a, coordinator_b,
                                                       data_manager):
    make_plans()
    mine = register(make_eligible_screening(site=site_a), coordinator_a)
    theirs = register(make_eligible_screening(site=site_b), coordinator_b)
    client.force_login(data_manager)
    url = reverse("oversight:audit_search")
    assert 'id="audit-search-results"' not in client.get(url).content.decode()  # no search yet
    page = client.get(url, {"user": coordinator_a.username}).content.decode()
    assert mine.patient.screening_number in page and theirs.patient.screening_number not in page
    page = client.get(url, {"patient": theirs.number}).content.decode()
    assert theirs.patient.screening_number in page and mine.patient.screening_number not in page
    assert f"{reverse('oversight:trail', args=[theirs.patient_id])}?record=primary" in page
    today = timezone.localdate()
    page = client.get(url, {"date_from": (today + dt.timedelta(days=1)).isoformat()}).content.decode()
    assert "Nothing found." in page
    page = client.get(url, {"record": "primary", "date_from": today.isoformat(), "date_to": today.isoformat()}
                      ).content.decode()
    assert page.count('class="audit-hit"') == 2
    # Bad input: a clear message, never a 500.
    for bad in ({"date_from": "2026-02-30"}, {"date_to": "x"}, {"record": "nope"}, {"patient": "A" * 500},
                {"date_from": "2026-05-02", "date_to": "2026-05-01"}, {"user": "a\x00b"}):
        response = client.get(url, bad)
        assert response.status_code in (200, 400), bad
    page = client.get(url, {"date_from": "2026-05-02", "date_to": "2026-05-01"}).content.decode()
    assert "The end date is before the start date." in page


def test_role_grants_are_found(client, data_manager, statistician, django_user_model):
    """Who made this person a statistician, when and why: the account's history rows are searchable."""
    from oligami_site import auditing

    superuser = django_user_model.objects.create_superuser("root_admin", "root@example.org", "x" * 20)
    statistician.first_name = "Renamed"
    auditing.save(statistician, user=superuser, reason="Name corrected")
    client.force_login(data_manager)
    page = client.get(reverse("oversight:audit_search"), {"record": "user"}).content.decode()
    assert "Name corrected" in page


def test_only_data_managers_search(client, coordinator_a, monitor_a, statistician):
    for user in (coordinator_a, monitor_a, statistician):
        client.force_login(user)
        assert client.get(reverse("oversight:audit_search")).status_code == 403


def test_the_search_is_bounded_by_its_limit(site_a, coordinator_a, monkeypatch):
    make_plans()
    for _ in range(3):
        register(make_eligible_screening(site=site_a), coordinator_a)
    monkeypatch.setattr(audit_search, "LIMIT", 4)
    hits, cut = audit_search.search()
    assert len(hits) == 4 and cut
    assert [h.when for h in hits] == sorted((h.when for h in hits), reverse=True)
