"""Cut-off and lock: declare, blockers, lock with the password (snapshot + SHA-256), unlock with a reason."""

import datetime as dt
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from oligami_site.models import Signature, SignatureFailure
from oligami_site.signatures import SignatureRefused
from oversight import cutoffs, queries
from oversight.cutoffs import CutoffRefused
from oversight.models import Cutoff
from tests.factories import PASSWORD
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(site_a, coordinator_a):
    make_plans()
    return register(make_eligible_screening(site=site_a), coordinator_a)


def test_declare_block_lock_verify_unlock(registered, data_manager):
    today = timezone.localdate()
    cutoff = cutoffs.declare_cutoff(user=data_manager, cutoff_date=today, purpose="Interim analysis")
    query = queries.open_query(user=data_manager, patient=registered.patient, text="?")
    [blocker] = cutoffs.blockers(cutoff)
    assert (blocker.code, blocker.count) == ("open_queries", 1)
    with pytest.raises(CutoffRefused) as refused:
        cutoffs.lock_cutoff(user=data_manager, cutoff=cutoff, password=PASSWORD)
    assert refused.value.code == "blocked"
    queries.close_query(user=data_manager, query=query, text="done")
    # The lock signs through the core's e-signatures (issue 14): a wrong password is refused and counted.
    with pytest.raises(SignatureRefused) as refused:
        cutoffs.lock_cutoff(user=data_manager, cutoff=cutoff, password="wrong")
    assert refused.value.code == "wrong_password"
    assert SignatureFailure.objects.get().kind == "data_lock" and not Signature.objects.filter(kind="data_lock")
    cutoff.refresh_from_db()
    assert not cutoff.locked and not cutoff.snapshot_sha256
    cutoffs.lock_cutoff(user=data_manager, cutoff=cutoff, password=PASSWORD)
    cutoff.refresh_from_db()
    signature = cutoff.signature
    assert cutoff.locked and (signature.kind, signature.meaning) == ("data_lock", "data_lock")
    assert signature.printed_name == data_manager.printed_name and signature.signed_at == cutoff.locked_at
    assert not cutoff.signed_name and not cutoff.signature_meaning  # the copies are the older locks' only
    data = bytes(cutoff.snapshot)
    assert registered.number in data.decode() and cutoff.snapshot_rows == 1
    assert hashlib.sha256(data).hexdigest() == cutoff.snapshot_sha256 and cutoffs.verify_snapshot(cutoff)
    # Altered afterwards (outside the application): the check says so.
    Cutoff.objects.filter(pk=cutoff.pk).update(snapshot=data + b"x")  # audit-ok: a test tampering on purpose
    cutoff.refresh_from_db()
    assert not cutoffs.verify_snapshot(cutoff)
    with pytest.raises(CutoffRefused):
        cutoffs.unlock_cutoff(user=data_manager, cutoff=cutoff, reason="  ")
    cutoffs.unlock_cutoff(user=data_manager, cutoff=cutoff, reason="Late death report")
    cutoff.refresh_from_db()
    assert not cutoff.locked
    reasons = list(cutoff.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons == ["Cut-off declared", "Data locked", "Data unlocked: Late death report"]


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"cutoff_date": "2026-01-01", "purpose": "x"}, "date_required"),
    ({"cutoff_date": dt.date(2999, 1, 1), "purpose": "x"}, "future_date"),
    ({"cutoff_date": dt.date(2026, 1, 1), "purpose": " "}, "purpose"),
])
def test_bad_declarations_are_refused(data_manager, kwargs, code):
    with pytest.raises(CutoffRefused) as refused:
        cutoffs.declare_cutoff(user=data_manager, **kwargs)
    assert refused.value.code == code and not Cutoff.objects.exists()


def test_only_data_managers(coordinator_a, statistician, data_manager):
    for user in (coordinator_a, statistician):
        with pytest.raises(CutoffRefused):
            cutoffs.declare_cutoff(user=user, cutoff_date=dt.date(2026, 1, 1), purpose="x")
    cutoffs.declare_cutoff(user=data_manager, cutoff_date=dt.date(2026, 1, 1), purpose="x")
    with pytest.raises(CutoffRefused) as refused:
        cutoffs.declare_cutoff(user=data_manager, cutoff_date=dt.date(2026, 1, 1), purpose="again")
    assert refused.value.code == "duplicate"


def test_pages(client, registered, data_manager):
    client.force_login(data_manager)
    response = client.post(reverse("oversight:cutoffs"), {"date": timezone.localdate().isoformat(),
                                                          "purpose": "Interim"})
    cutoff = Cutoff.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("oversight:cutoff", args=[cutoff.pk])).content.decode()
    assert 'id="no-blockers"' in page and 'id="lock-form"' in page
    client.post(reverse("oversight:cutoff", args=[cutoff.pk]), {"action": "lock", "password": PASSWORD})
    cutoff.refresh_from_db()
    page = client.get(reverse("oversight:cutoff", args=[cutoff.pk])).content.decode()
    assert cutoff.snapshot_sha256 in page and 'id="snapshot-verified"' in page
    download = client.get(reverse("oversight:cutoff_snapshot", args=[cutoff.pk]))
    assert download["X-Content-SHA256"] == cutoff.snapshot_sha256
    assert hashlib.sha256(download.content).hexdigest() == cutoff.snapshot_sha256
