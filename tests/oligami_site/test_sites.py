"""The site services (oligami_site.sites): approval record and status changes, with reasons, audited."""

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from oligami_site import sites
from oligami_site.models import Site
from oligami_site.sites import SiteChangeRefused
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """The messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield
TODAY = dt.date(2026, 6, 1)
RECORD = {"ethics_approval_date": dt.date(2026, 4, 1), "approved_protocol_version": "1.2",
          "head_permission_date": dt.date(2026, 4, 20), "start_date": dt.date(2026, 5, 1)}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def pending():
    return SiteFactory(code="NEW", status="pending", ethics_approval_date=None, approved_protocol_version="",
                       head_permission_date=None, start_date=None)


def test_a_new_site_starts_pending(db):
    assert Site.objects.create(code="FRESH", name_en="Fresh", name_ja="新").status == Site.Status.PENDING


def test_record_approval_then_open_with_reasons_in_the_history(pending, data_manager):
    sites.record_approval(site=pending, user=data_manager, **RECORD)
    site = sites.change_status(site=pending, status="open", user=data_manager, reason="All approvals on file")
    assert site.status == "open"
    rows = list(Site.history.filter(id=pending.pk).order_by("history_id")
                .values_list("status", "approved_protocol_version", "history_user__username",
                             "history_change_reason"))
    assert rows[-2:] == [("pending", "1.2", data_manager.username, "Approval recorded"),
                         ("open", "1.2", data_manager.username, "All approvals on file")]


@pytest.mark.parametrize("missing", list(RECORD))
def test_opening_refused_while_the_record_is_incomplete(pending, data_manager, missing):
    sites.record_approval(site=pending, user=data_manager,
                          **{**RECORD, missing: "" if missing == "approved_protocol_version" else None})
    with pytest.raises(SiteChangeRefused, match="Pending approval.*missing") as refused:
        sites.change_status(site=pending, status="open", user=data_manager, reason="Open")
    assert refused.value.code == "approval_incomplete"
    assert Site.objects.get(pk=pending.pk).status == "pending"


def test_a_status_change_needs_a_reason_and_a_data_manager(pending, data_manager, coordinator_a, site_a):
    with pytest.raises(SiteChangeRefused) as refused:
        sites.change_status(site=site_a, status="closed_to_accrual", user=data_manager, reason="  ")
    assert refused.value.code == "reason_required"
    with pytest.raises(SiteChangeRefused) as refused:
        sites.change_status(site=site_a, status="closed_to_accrual", user=coordinator_a, reason="Why not")
    assert refused.value.code == "forbidden"
    with pytest.raises(SiteChangeRefused) as refused:
        sites.change_status(site=site_a, status="active", user=data_manager, reason="Old flag")
    assert refused.value.code == "invalid"
    assert Site.objects.get(pk=site_a.pk).status == "open"


def test_closed_is_final_and_the_refusal_names_the_status(site_a, data_manager):
    sites.change_status(site=site_a, status="closed", user=data_manager, reason="Study finished at this site")
    with pytest.raises(SiteChangeRefused, match="SITEA is Closed: it cannot be changed to Open"):
        sites.change_status(site=site_a, status="open", user=data_manager, reason="Reopen")


@pytest.mark.parametrize(("change", "code"), [
    ({"ethics_approval_date": dt.date(2026, 6, 2)}, "future_date"),
    ({"head_permission_date": dt.date(2026, 3, 31)}, "order"),
    ({"start_date": dt.date(2026, 4, 19)}, "order"),
    ({"ethics_approval_date": dt.date(1999, 12, 31)}, "invalid"),
    ({"approved_protocol_version": "x" * 21}, "invalid"),
])
def test_bad_approval_records_change_nothing(pending, data_manager, change, code):
    with pytest.raises(SiteChangeRefused) as refused:
        sites.record_approval(site=pending, user=data_manager, **{**RECORD, **change})
    assert refused.value.code == code
    assert Site.objects.get(pk=pending.pk).approval.missing  # still empty
    assert Site.history.filter(id=pending.pk).count() == 1


def test_the_boundaries_of_the_approval_dates_are_accepted(pending, data_manager):
    # Permission on the day of the approval, start on the day of the permission, approval today.
    same_day = {"ethics_approval_date": TODAY, "approved_protocol_version": "2.0", "head_permission_date": TODAY,
                "start_date": TODAY}
    assert sites.record_approval(site=pending, user=data_manager, **same_day).approval.missing == ()


def test_a_correction_needs_a_reason_and_an_open_site_keeps_its_record(pending, data_manager):
    sites.record_approval(site=pending, user=data_manager, **RECORD)
    with pytest.raises(SiteChangeRefused) as refused:
        sites.record_approval(site=pending, user=data_manager, **{**RECORD, "approved_protocol_version": "1.3"})
    assert refused.value.code == "reason_required"
    sites.record_approval(site=pending, user=data_manager, reason="Amendment 1.3 approved",
                          **{**RECORD, "approved_protocol_version": "1.3"})
    sites.change_status(site=pending, status="open", user=data_manager, reason="Open")
    with pytest.raises(SiteChangeRefused) as refused:
        sites.record_approval(site=pending, user=data_manager, reason="Oops", **{**RECORD, "start_date": None})
    assert refused.value.code == "incomplete"
    assert Site.objects.get(pk=pending.pk).approved_protocol_version == "1.3"


def test_an_unchanged_record_writes_no_history(pending, data_manager):
    sites.record_approval(site=pending, user=data_manager, **RECORD)
    count = Site.history.filter(id=pending.pk).count()
    sites.record_approval(site=pending, user=data_manager, **RECORD)
    assert Site.history.filter(id=pending.pk).count() == count
