"""The sites pages: the data manager records the approval and opens a site; everyone else reads their own."""

import datetime as dt

import pytest
from django.urls import reverse

from oligami_site.models import Site
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
APPROVAL = {"ethics_approval_date": "2026-04-01", "approved_protocol_version": "1.2",
            "head_permission_date": "2026-04-20", "start_date": "2026-05-01", "reason": ""}


@pytest.fixture
def pending(db):
    return SiteFactory(code="NEW", name_en="New Hospital", status="pending", ethics_approval_date=None,
                       approved_protocol_version="", head_permission_date=None, start_date=None)


def test_data_manager_records_the_approval_and_opens_the_site(client, data_manager, pending):
    client.force_login(data_manager)
    page = client.get(reverse("site_detail", args=[pending.pk])).content.decode()
    assert "Pending approval" in page and 'id="approval-form"' in page
    refused = client.post(reverse("site_change_status", args=[pending.pk]), {"status": "open", "reason": "Go"})
    assert refused.status_code == 200
    assert "it can open only when the approval record is complete" in refused.content.decode()
    saved = client.post(reverse("site_approval", args=[pending.pk]), APPROVAL)
    assert saved.status_code == 302
    opened = client.post(reverse("site_change_status", args=[pending.pk]),
                         {"status": "open", "reason": "Approvals on file"}, follow=True)
    assert "NEW is now Open." in opened.content.decode()
    site = Site.objects.get(pk=pending.pk)
    assert (site.status, site.approved_protocol_version, site.start_date) == ("open", "1.2", dt.date(2026, 5, 1))
    history = opened.content.decode().split('id="site-history"')[1]
    assert "Approvals on file" in history and "Approval recorded" in history


@pytest.mark.parametrize(("change", "message"), [
    ({"ethics_approval_date": "2999-01-01"}, "a date in the future is not allowed"),
    ({"ethics_approval_date": "2026-02-30"}, "Enter a valid date."),
    ({"head_permission_date": "2026-03-01"}, "cannot precede the ethics committee approval"),
    ({"approved_protocol_version": "v" * 21}, "at most 20 characters"),
])
def test_bad_approval_input_is_explained_and_changes_nothing(client, data_manager, pending, change, message):
    client.force_login(data_manager)
    response = client.post(reverse("site_approval", args=[pending.pk]), {**APPROVAL, **change})
    assert response.status_code == 200 and message in response.content.decode()
    assert Site.objects.get(pk=pending.pk).approval.missing
    assert Site.history.filter(id=pending.pk).count() == 1


def test_a_status_not_allowed_from_here_is_not_offered_and_refused(client, data_manager, site_a):
    client.force_login(data_manager)
    page = client.get(reverse("site_detail", args=[site_a.pk])).content.decode()
    form = page.split('id="status-form"')[1]
    assert 'value="closed_to_accrual"' in form and 'value="pending"' not in form
    response = client.post(reverse("site_change_status", args=[site_a.pk]), {"status": "pending", "reason": "x"})
    assert response.status_code == 200 and Site.objects.get(pk=site_a.pk).status == "open"


def test_site_staff_read_their_site_only_and_change_nothing(client, coordinator_a, site_a, site_b):
    client.force_login(coordinator_a)
    listing = client.get(reverse("sites")).content.decode()
    assert "SITEA" in listing and "SITEB" not in listing
    page = client.get(reverse("site_detail", args=[site_a.pk])).content.decode()
    assert "Open" in page and 'id="approval-form"' not in page and 'id="status-form"' not in page
    assert client.get(reverse("site_detail", args=[site_b.pk])).status_code == 404
    assert client.post(reverse("site_change_status", args=[site_a.pk]),
                       {"status": "closed", "reason": "x"}).status_code == 403
    assert client.post(reverse("site_approval", args=[site_a.pk]), APPROVAL).status_code == 403
    assert client.post(reverse("site_approval", args=[site_b.pk]), APPROVAL).status_code == 404
    assert Site.objects.get(pk=site_a.pk).status == "open"


def test_worklist_and_reports_show_status_and_dates(client, coordinator_a, data_manager, site_a, pending):
    client.force_login(coordinator_a)
    worklist = client.get(reverse("home")).content.decode().split('id="worklist-sites"')[1].split("</table>")[0]
    assert "SITEA" in worklist and "Open" in worklist and "2025-10-01" in worklist and "2025-11-01" in worklist
    client.force_login(data_manager)
    reports = client.get(reverse("oversight:reports")).content.decode()
    table = reports.split('id="site-status-table"')[1].split("</table>")[0]
    assert "NEW" in table and "Pending approval" in table and "SITEA" in table and "(protocol 1.0)" in table


def test_site_list_queries_do_not_grow_with_the_number_of_sites(client, data_manager, django_assert_max_num_queries):
    client.force_login(data_manager)
    for n in range(30):
        SiteFactory(code=f"Q{n:02d}")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("sites")).status_code == 200


def test_japanese_status_and_refusal(client, data_manager, pending):
    data_manager.preferred_language = "ja"
    data_manager.save()
    client.force_login(data_manager)
    response = client.post(reverse("site_change_status", args=[pending.pk]), {"status": "open", "reason": "開始"},
                           HTTP_ACCEPT_LANGUAGE="ja")
    text = response.content.decode()
    assert "承認待ち" in text and "承認記録がすべて揃うまで" in text
