"""Concurrency on PostgreSQL: threads released together by a barrier randomize at the same instant.

50 different ready patients at once -> 50 allocations, no error, a chain that verifies; 10 simultaneous
submits for one patient -> exactly one allocation and every caller gets the same arm. Several rounds.
Skipped without PostgreSQL locally; a failure in CI (OLIGAMI_REQUIRE_SERVICES=1).
"""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from oligami_site.models import User
from randomization import services
from randomization.models import Allocation
from screening.models import Patient
from tests.conftest import need, uses_postgresql
from tests.factories import MembershipFactory, SiteFactory
from tests.randomization.factories import minimization_config, ready_patient

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROUNDS = 5
SUBTYPES = ("luminal", "her2", "tnbc")


def _race(jobs):
    """Run each (patient id, user id, factors) in its own thread, all released by one barrier."""
    barrier = threading.Barrier(len(jobs), timeout=60)
    results: list = [None] * len(jobs)

    def work(i, patient_id, user_id, factors):
        try:
            patient = Patient.objects.select_related("site").get(pk=patient_id)
            user = User.objects.get(pk=user_id)
            barrier.wait()
            record = services.randomize(patient=patient, factors=factors, user=user)
            results[i] = ("ok", record.pk, record.arm)
        except Exception as exc:  # reported by the test, never lost in a thread
            results[i] = ("error", repr(exc), None)
        finally:
            connections.close_all()  # each thread's own connection

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a randomization hung"
    return results


@pytest.fixture
def sites_and_users(db):
    need(uses_postgresql(), "PostgreSQL")
    minimization_config()
    sites = [SiteFactory(code=f"C{i:02d}") for i in range(5)]
    users = {s.pk: MembershipFactory(site=s, role="coordinator").user.pk for s in sites}
    return sites, users


@pytest.mark.django_db(transaction=True)
def test_fifty_different_patients_at_once(sites_and_users):
    sites, users = sites_and_users
    for round_no in range(ROUNDS):
        jobs = []
        for i in range(50):
            site = sites[i % len(sites)]
            patient = ready_patient(site)
            jobs.append((patient.pk, users[site.pk], {"subtype": SUBTYPES[i % 3], "lesions": ("1", "2-3")[i % 2]}))
        results = _race(jobs)
        errors = [r for r in results if r[0] != "ok"]
        assert errors == [], f"round {round_no}: {errors[:3]}"
        assert len({r[1] for r in results}) == 50
        assert Allocation.objects.count() == 50 * (round_no + 1)
        assert not Patient.objects.filter(stage=Patient.Stage.REGISTERED).exists()
    sequences = list(Allocation.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 50 * ROUNDS + 1))
    out = io.StringIO()
    call_command("verify_allocations", stdout=out)  # hashes, chain, recorded counts and decisions all replay
    assert f"OK: {50 * ROUNDS} allocations verified" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_submits_for_one_patient(sites_and_users):
    sites, users = sites_and_users
    site = sites[0]
    # two users of the site submit, as a double click and a colleague's click would
    second = MembershipFactory(site=site, role="investigator").user.pk
    for round_no in range(ROUNDS):
        patient = ready_patient(site)
        jobs = [(patient.pk, users[site.pk] if i % 2 else second, {"subtype": "luminal", "lesions": "1"})
                for i in range(10)]
        results = _race(jobs)
        assert [r[0] for r in results] == ["ok"] * 10, f"round {round_no}: {results}"
        assert len({(r[1], r[2]) for r in results}) == 1  # one allocation, the same arm for every caller
        assert Allocation.objects.filter(patient_id=patient.pk).count() == 1
        assert Allocation.objects.count() == round_no + 1
    call_command("verify_allocations", stdout=io.StringIO())
