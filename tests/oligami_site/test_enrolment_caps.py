"""Enrolment caps (issue 17): a site at its cap screens no new patient; its staff ask the data centre, which
grants N more (the cap is raised) or refuses with a reason; every step audited; nothing written when refused.

The rule at its boundaries (pure), the services (below / at / above the cap, no cap, grant, refuse, who may),
the pages (the new-patient page and its POST refused before anything is written, naming the cap; the request,
the decision and the cap on the site page), the data manager's to-do and digest, the Japanese wording, the
pages' query bounds, and two coordinators racing for the last slot on PostgreSQL.
"""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from oligami_site import enrolment, site_status
from oligami_site.enrolment import EnrolmentCapReached, EnrolmentRefused
from oligami_site.models import EnrolmentRequest, Site
from oligami_site.sites import SiteStatusRefused
from oversight import digest, todo
from registration.models import Audience
from screening import services
from screening.models import Patient
from tests.conftest import need, uses_postgresql
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
BIRTH = dt.date(1968, 7, 15)
NEW = {"sex": "female", "birth_date": "1968-07-15"}


def new_patient(site, user):
    return services.create_patient(site=site, sex="female", birth_date=BIRTH, user=user)


def capped(site, user, manager, *, cap, patients):
    """`patients` screened at the site, then a cap of `cap` set by the data centre."""
    for _ in range(patients):
        new_patient(site, user)
    return enrolment.set_cap(site=site, cap=cap, user=manager, reason="Planned accrual")


def written():
    return Patient.objects.count(), Patient.history.count()


# --- the rule (pure) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("screened", "cap", "reached"), [
    (0, None, False), (10_000, None, False),  # no cap: unlimited
    (0, 1, False), (1, 1, True), (2, 1, True),  # below, at, above
    (19, 20, False), (20, 20, True), (21, 20, True),
])
def test_cap_reached_at_its_boundaries(screened, cap, reached):
    assert site_status.cap_reached(screened, cap) is reached


@pytest.mark.parametrize(("cap", "screened", "more", "new"), [
    (20, 20, 5, 25),  # at the cap: N more
    (20, 22, 1, 23),  # a cap lowered below the count: N more beyond those screened
    (30, 20, 2, 32),  # granted before it was reached: the cap rises by N
    (None, 7, 3, None),  # no cap stays no cap
])
def test_grant_raises_the_cap_by_n(cap, screened, more, new):
    assert site_status.grant_cap(cap, screened, more) == new


# --- the screening service ------------------------------------------------------------------------------


def test_below_the_cap_screens_at_the_cap_refuses_and_writes_nothing(site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=2, patients=1)
    assert new_patient(site, coordinator_a).screening_number == "SITEA-S0002"  # the last slot
    before = written()
    with pytest.raises(EnrolmentCapReached) as refused:
        new_patient(site, coordinator_a)
    assert refused.value.code == "cap_reached"
    assert "SITEA has reached its enrolment cap of 2 patients screened (2 so far)" in str(refused.value.message)
    assert written() == before


def test_above_the_cap_a_lowered_cap_refuses_too(site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=3)
    with pytest.raises(EnrolmentCapReached):
        new_patient(site, coordinator_a)
    assert Patient.objects.count() == 3


def test_no_cap_is_unlimited_and_other_sites_do_not_count(site_a, site_b, coordinator_a, coordinator_b,
                                                          data_manager):
    for _ in range(3):
        new_patient(site_a, coordinator_a)  # site A has no cap
    enrolment.set_cap(site=site_b, cap=1, user=data_manager, reason="Planned accrual")
    new_patient(site_b, coordinator_b)  # site A's three patients are not site B's
    with pytest.raises(EnrolmentCapReached):
        new_patient(site_b, coordinator_b)
    new_patient(site_a, coordinator_a)


def test_the_status_refusal_comes_before_the_cap(site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    site.status = "closed_to_accrual"
    site.save()
    with pytest.raises(SiteStatusRefused):
        new_patient(site, coordinator_a)
    with pytest.raises(SiteStatusRefused):  # a site that does not screen asks for nothing either
        enrolment.request_more(site=site, user=coordinator_a)


def test_a_rescreening_is_the_same_patient(site_a, coordinator_a, data_manager):
    from tests.screening.factories import eligible_inputs

    patient = new_patient(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    enrolment.set_cap(site=site_a, cap=1, user=data_manager, reason="Planned accrual")
    assert services.start_rescreening(patient=patient, user=coordinator_a, reason="New lesion").number == 2


# --- setting the cap --------------------------------------------------------------------------------------


def test_the_data_centre_sets_the_cap_with_a_reason_in_the_sites_history(site_a, data_manager):
    enrolment.set_cap(site=site_a, cap=12, user=data_manager, reason="Planned accrual")
    row = Site.history.filter(id=site_a.pk).latest("history_date")
    assert (row.enrolment_cap, row.history_change_reason, row.history_user) == (12, "Planned accrual",
                                                                                 data_manager)
    rows = Site.history.count()
    enrolment.set_cap(site=site_a, cap=12, user=data_manager, reason="Same")
    assert Site.history.count() == rows  # nothing changed: no row
    enrolment.set_cap(site=site_a, cap=None, user=data_manager, reason="No cap after all")
    site_a.refresh_from_db()
    assert site_a.enrolment_cap is None


@pytest.mark.parametrize("cap", [0, -1, enrolment.CAP_MAX + 1, "5", 2.5, True])
def test_a_cap_that_is_no_whole_number_in_range_is_refused(site_a, data_manager, cap):
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.set_cap(site=site_a, cap=cap, user=data_manager, reason="Planned accrual")
    assert refused.value.code == "invalid"
    site_a.refresh_from_db()
    assert site_a.enrolment_cap is None


def test_only_the_data_centre_sets_a_cap_and_always_with_a_reason(site_a, coordinator_a, investigator_a, monitor_a,
                                                                   statistician, data_manager):
    for user in (coordinator_a, investigator_a, monitor_a, statistician):
        with pytest.raises(EnrolmentRefused) as refused:
            enrolment.set_cap(site=site_a, cap=5, user=user, reason="Planned accrual")
        assert refused.value.code == "forbidden"
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.set_cap(site=site_a, cap=5, user=data_manager, reason="  ")
    assert refused.value.code == "reason_required"
    site_a.refresh_from_db()
    assert site_a.enrolment_cap is None


# --- requests and decisions ---------------------------------------------------------------------------------


def test_request_grant_and_screen_again(site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    request = enrolment.request_more(site=site, user=coordinator_a, message="Two more expected")
    assert (request.status, request.cap, request.screened) == ("pending", 1, 1)
    assert request.history.get().history_change_reason == "Enrolment request sent"
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.request_more(site=site, user=coordinator_a)
    assert refused.value.code == "already_pending"
    granted = enrolment.grant(request=request, more=2, user=data_manager, reason="Accrual behind target")
    site.refresh_from_db()
    assert (granted.status, granted.granted, granted.decided_by, site.enrolment_cap) == ("granted", 2,
                                                                                           data_manager, 3)
    assert Site.history.filter(id=site.pk).latest("history_date").history_change_reason == "Accrual behind target"
    assert granted.history.latest("history_date").history_change_reason == "Accrual behind target"
    new_patient(site, coordinator_a)
    new_patient(site, coordinator_a)
    with pytest.raises(EnrolmentCapReached):
        new_patient(site, coordinator_a)
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.grant(request=request, more=1, user=data_manager, reason="Twice")
    assert refused.value.code == "decided"


def test_refuse_keeps_the_cap_and_a_new_request_may_follow(site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    request = enrolment.request_more(site=site, user=coordinator_a)
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.refuse(request=request, user=data_manager, reason="")
    assert refused.value.code == "reason_required"
    refused_request = enrolment.refuse(request=request, user=data_manager, reason="Target met")
    site.refresh_from_db()
    assert (refused_request.status, refused_request.decision_reason, site.enrolment_cap) == ("refused",
                                                                                               "Target met", 1)
    with pytest.raises(EnrolmentCapReached):
        new_patient(site, coordinator_a)
    assert enrolment.request_more(site=site, user=coordinator_a).status == "pending"


def test_who_may_request_and_who_may_decide(site_a, coordinator_a, investigator_a, monitor_a, coordinator_b,
                                            statistician, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    for user in (monitor_a, coordinator_b, statistician, data_manager):
        with pytest.raises(EnrolmentRefused) as refused:
            enrolment.request_more(site=site, user=user)
        assert refused.value.code == "forbidden"
    request = enrolment.request_more(site=site, user=investigator_a)
    for user in (coordinator_a, investigator_a, monitor_a, coordinator_b, statistician):
        for decide in (lambda u: enrolment.grant(request=request, more=1, user=u, reason="Yes"),
                       lambda u: enrolment.refuse(request=request, user=u, reason="No")):
            with pytest.raises(EnrolmentRefused) as refused:
                decide(user)
            assert refused.value.code == "forbidden"
    request.refresh_from_db()
    assert request.status == "pending"


@pytest.mark.parametrize("more", [0, -1, enrolment.MORE_MAX + 1, None, "2"])
def test_a_grant_of_no_whole_number_is_refused(site_a, coordinator_a, data_manager, more):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    request = enrolment.request_more(site=site, user=coordinator_a)
    with pytest.raises(EnrolmentRefused):
        enrolment.grant(request=request, more=more, user=data_manager, reason="Yes")
    site.refresh_from_db()
    request.refresh_from_db()
    assert (site.enrolment_cap, request.status) == (1, "pending")


def test_no_request_below_the_cap_or_without_one(site_a, coordinator_a, data_manager):
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.request_more(site=site_a, user=coordinator_a)
    assert refused.value.code == "below_cap"
    enrolment.set_cap(site=site_a, cap=5, user=data_manager, reason="Planned accrual")
    with pytest.raises(EnrolmentRefused) as refused:
        enrolment.request_more(site=site_a, user=coordinator_a, message="x" * (enrolment.MESSAGE_MAX_LENGTH + 1))
    assert refused.value.code == "invalid"
    assert not EnrolmentRequest.objects.exists()


# --- pages -----------------------------------------------------------------------------------------------


def test_new_patient_page_and_post_refuse_at_the_cap_before_anything_is_written(client, site_a, coordinator_a,
                                                                                 data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    client.force_login(coordinator_a)
    before = written()
    page = client.get(reverse("screening:patient_create"))
    text = page.content.decode()
    assert page.status_code == 403
    assert "SITEA has reached its enrolment cap of 1 patients screened (1 so far)" in text
    assert 'id="create-patient"' not in text
    assert reverse("site_enrolment_request", args=[site.pk]) in text  # the request form
    posted = client.post(reverse("screening:patient_create"), {"site": site.pk, **NEW})
    assert posted.status_code == 403 and "enrolment cap of 1" in posted.content.decode()
    assert written() == before


def test_a_user_of_two_sites_may_screen_only_where_the_cap_allows(client, site_a, site_b, coordinator_a,
                                                                   data_manager):
    MembershipFactory(user=coordinator_a, site=site_b, role="coordinator")
    capped(site_b, coordinator_a, data_manager, cap=1, patients=1)
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:patient_create")).content.decode()
    assert "SITEB Site B Hospital (enrolment cap reached)" in page
    before = written()
    refused = client.post(reverse("screening:patient_create"), {"site": site_b.pk, **NEW})
    assert refused.status_code == 200 and "SITEB has reached its enrolment cap of 1" in refused.content.decode()
    assert written() == before
    created = client.post(reverse("screening:patient_create"), {"site": site_a.pk, **NEW})
    assert created.status_code == 302 and Patient.objects.latest("pk").site == site_a


def test_below_the_cap_the_page_shows_the_count(client, site_a, coordinator_a, data_manager):
    capped(site_a, coordinator_a, data_manager, cap=3, patients=1)
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:patient_create"))
    assert page.status_code == 200 and "SITEA: 1 of 3 patients screened (enrolment cap)." in page.content.decode()


def test_the_journey_request_grant_refuse_on_the_pages(client, site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    client.force_login(coordinator_a)
    sent = client.post(reverse("site_enrolment_request", args=[site.pk]), {"message": "One more, please"},
                       follow=True)
    assert "was sent to the data centre" in sent.content.decode()
    request = EnrolmentRequest.objects.get()
    page = client.get(reverse("screening:patient_create")).content.decode()
    assert "is waiting for the data centre" in page and reverse("site_enrolment_request", args=[site.pk]) not in page
    # The data manager sees it on the to-do and decides on the site page.
    client.force_login(data_manager)
    home = client.get(reverse("home")).content.decode()
    assert "Requests to screen beyond an enrolment cap" in home and reverse("site_detail", args=[site.pk]) in home
    detail = client.get(reverse("site_detail", args=[site.pk])).content.decode()
    assert "One more, please" in detail and 'id="enrolment-decision-form"' in detail
    url = reverse("site_enrolment_decision", args=[site.pk, request.pk])
    missing = client.post(url, {"decision": "grant", "reason": "Behind target"})
    assert missing.status_code == 200 and "Give the number of patients granted." in missing.content.decode()
    assert client.post(url, {"decision": "grant", "more": "2", "reason": "Behind target"}).status_code == 302
    site.refresh_from_db()
    assert site.enrolment_cap == 3
    # The coordinator sees the grant, and screens again.
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:patient_create"))
    assert page.status_code == 200
    assert "Latest request granted on" in page.content.decode() and "2 more patients (Behind target)" in (
        page.content.decode())
    assert client.post(reverse("screening:patient_create"), {"site": site.pk, **NEW}).status_code == 302
    # A second request at the new cap, refused: the reason reaches the coordinator.
    new_patient(site, coordinator_a)
    again = enrolment.request_more(site=site, user=coordinator_a)
    client.force_login(data_manager)
    client.post(reverse("site_enrolment_decision", args=[site.pk, again.pk]), {"decision": "refuse",
                                                                                "reason": "Target met"})
    client.force_login(coordinator_a)
    refused = client.get(reverse("screening:patient_create"))
    assert refused.status_code == 403 and "Latest request refused on" in refused.content.decode()
    assert "Target met" in refused.content.decode()


def test_the_cap_form_on_the_site_page(client, site_a, data_manager):
    client.force_login(data_manager)
    url = reverse("site_enrolment_cap", args=[site_a.pk])
    assert client.post(url, {"cap": "0", "reason": "x"}).status_code == 200  # below the minimum: the form again
    assert client.post(url, {"cap": "abc", "reason": "x"}).status_code == 200
    assert client.post(url, {"cap": "8"}).status_code == 200  # no reason
    assert Site.objects.get(pk=site_a.pk).enrolment_cap is None
    assert client.post(url, {"cap": "8", "reason": "Planned accrual"}).status_code == 302
    assert Site.objects.get(pk=site_a.pk).enrolment_cap == 8
    detail = client.get(reverse("site_detail", args=[site_a.pk])).content.decode()
    assert "0 of 8 patients screened" in detail and "Planned accrual" in detail
    assert client.post(url, {"cap": "", "reason": "Cap lifted"}).status_code == 302
    assert Site.objects.get(pk=site_a.pk).enrolment_cap is None


def test_pages_refuse_other_sites_and_roles(client, site_a, coordinator_a, monitor_a, coordinator_b, statistician,
                                            data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    request = enrolment.request_more(site=site, user=coordinator_a)
    urls = {"cap": reverse("site_enrolment_cap", args=[site.pk]),
            "request": reverse("site_enrolment_request", args=[site.pk]),
            "decide": reverse("site_enrolment_decision", args=[site.pk, request.pk])}
    data = {"cap": "9", "reason": "x", "decision": "grant", "more": "5", "message": "m"}
    expected = {monitor_a: {"cap": 403, "request": 403, "decide": 403},
                coordinator_b: {"cap": 404, "request": 404, "decide": 404},
                statistician: {"cap": 403, "request": 403, "decide": 403},
                coordinator_a: {"cap": 403, "decide": 403},
                data_manager: {"request": 403}}
    for user, answers in expected.items():
        client.force_login(user)
        for key, status in answers.items():
            assert client.post(urls[key], data).status_code == status, (user.username, key)
    client.force_login(data_manager)
    other = reverse("site_enrolment_decision", args=[site.pk + 1000, request.pk])
    assert client.post(other, data).status_code == 404
    site.refresh_from_db()
    request.refresh_from_db()
    assert (site.enrolment_cap, request.status, EnrolmentRequest.objects.count()) == (1, "pending", 1)


def test_a_request_of_another_sites_url_is_not_found(client, site_a, site_b, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    request = enrolment.request_more(site=site, user=coordinator_a)
    client.force_login(data_manager)
    url = reverse("site_enrolment_decision", args=[site_b.pk, request.pk])  # site B's URL, site A's request
    assert client.post(url, {"decision": "refuse", "reason": "x"}).status_code == 404


# --- the data manager's to-do and digest --------------------------------------------------------------------


def test_todo_and_digest_list_pending_requests(site_a, site_b, coordinator_a, coordinator_b, data_manager):
    assert todo.enrolment_requests().count == 0
    assert digest.enrolment_requests(audience=Audience.DATA_MANAGERS, site=None, today=timezone.localdate()) is None
    for site, user in ((site_a, coordinator_a), (site_b, coordinator_b)):
        enrolment.request_more(site=capped(site, user, data_manager, cap=1, patients=1), user=user)
    section = todo.enrolment_requests()
    assert section.count == 2 and [row.text.split()[0] for row in section.rows] == ["SITEA", "SITEB"]
    lines = digest.enrolment_requests(audience=Audience.DATA_MANAGERS, site=None, today=timezone.localdate())
    assert [line.split(" · ")[0] for line in lines["lines"]] == ["SITEA", "SITEB"]
    assert "cap 1, 1 screened · waiting 0 days" in lines["lines"][0]
    assert digest.enrolment_requests(audience=Audience.SITE_STAFF, site=site_a, today=timezone.localdate()) is None
    enrolment.refuse(request=EnrolmentRequest.objects.get(site=site_a), user=data_manager, reason="No")
    assert todo.enrolment_requests().count == 1


# --- Japanese -------------------------------------------------------------------------------------------------


def test_the_refusal_in_japanese(client, site_a, coordinator_a, data_manager):
    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:patient_create"), HTTP_ACCEPT_LANGUAGE="ja")
    with translation.override("ja"):
        message = str(enrolment.cap_message(site, 1))
    with translation.override("en"):
        assert message != str(enrolment.cap_message(site, 1))  # translated
    assert page.status_code == 403 and message in page.content.decode()


# --- query bounds -----------------------------------------------------------------------------------------


def test_site_page_and_new_patient_page_queries_do_not_grow_with_requests(client, site_a, coordinator_a,
                                                                          data_manager,
                                                                          django_assert_max_num_queries):
    from django.test.utils import CaptureQueriesContext

    site = capped(site_a, coordinator_a, data_manager, cap=1, patients=1)
    urls = [reverse("site_detail", args=[site.pk]), reverse("screening:patient_create"), reverse("sites")]

    def count(user, url):
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return len(ctx.captured_queries)

    enrolment.request_more(site=site, user=coordinator_a)
    few = {(user.pk, url): count(user, url) for user in (coordinator_a, data_manager) for url in urls}
    for _ in range(6):  # refused and asked again: many requests on the site page
        enrolment.refuse(request=EnrolmentRequest.objects.get(status="pending"), user=data_manager, reason="No")
        enrolment.request_more(site=site, user=coordinator_a)
    for user in (coordinator_a, data_manager):
        for url in urls:
            client.force_login(user)
            with django_assert_max_num_queries(few[(user.pk, url)]):
                client.get(url)


# --- the race for the last slot (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_racing_for_the_last_slot_do_not_both_pass(site_a, coordinator_a, investigator_a,
                                                                     data_manager):
    # select_for_update on the Site row serialises the count and the insert (create_patient); without it both
    # would count n-1 and both write (SQLite serialises anyway: IMMEDIATE transactions).
    need(uses_postgresql(), "PostgreSQL")
    capped(site_a, coordinator_a, data_manager, cap=3, patients=2)
    barrier = threading.Barrier(6)
    outcomes = []

    def create(user):
        try:
            barrier.wait()
            new_patient(site_a, user)
            outcomes.append("created")
        except EnrolmentCapReached:
            outcomes.append("refused")
        except Exception as exc:  # pragma: no cover - reported below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(user,)) for user in [coordinator_a, investigator_a] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
    assert Patient.objects.filter(site=site_a).count() == 3
