"""verify_allocations: replays the chain and every decision; tampering (rows edited directly) is found."""

import io

import pytest
from django.core.management import CommandError, call_command

from randomization import ledger, services
from randomization.models import Allocation, BlockListEntry
from tests.randomization.factories import blocks_config, minimization_config, ready_patient

pytestmark = pytest.mark.django_db

MIX = [{"subtype": s, "lesions": n} for s in ("luminal", "her2", "tnbc") for n in ("1", "2-3")]


def _verify():
    out = io.StringIO()
    call_command("verify_allocations", stdout=out)
    return out.getvalue()


def _broken():
    with pytest.raises(CommandError) as failed:
        _verify()
    assert failed.value.returncode == 1  # manage.py exits non-zero
    return str(failed.value)


def _rechain_from(sequence):
    """What a careful tamperer does: recompute the hashes of the edited row and every later one."""
    previous = Allocation.objects.get(sequence=sequence - 1).hash if sequence > 1 else ledger.GENESIS_HASH
    for record in Allocation.objects.filter(sequence__gte=sequence).order_by("sequence"):
        record.prev_hash = previous
        record.hash = ledger.compute_hash(record)
        Allocation.objects.filter(pk=record.pk).update(prev_hash=record.prev_hash, hash=record.hash)
        previous = record.hash


@pytest.fixture
def minimized(site_a, site_b, coordinator_a, coordinator_b):
    minimization_config()
    for i in range(12):
        site, user = (site_a, coordinator_a) if i % 3 else (site_b, coordinator_b)
        services.randomize(patient=ready_patient(site), factors=MIX[i % len(MIX)], user=user)


def test_intact_log_verifies_with_counts(minimized):
    out = _verify()
    a = Allocation.objects.filter(arm="A").count()
    assert f"OK: 12 allocations verified (A {a}, B {12 - a})" in out
    assert Allocation.objects.get(sequence=12).hash in out


def test_edited_arm_is_found(minimized):
    record = Allocation.objects.get(sequence=5)
    Allocation.objects.filter(pk=record.pk).update(arm="B" if record.arm == "A" else "A")
    message = _broken()
    assert "BROKEN at allocation #5" in message and "hash" in message


def test_edited_draw_is_found(minimized):
    Allocation.objects.filter(sequence=7).update(u=0.123456)
    message = _broken()
    assert "BROKEN at allocation #7" in message and "hash" in message


def test_edited_draw_with_rehashed_chain_is_found_by_replaying_the_decision(minimized):
    record = Allocation.objects.get(sequence=8)
    # make the recorded draw point at the other arm (p = 0.8; on a tie, the coin at 0.5)
    flip = {True: 0.9, False: 0.1} if record.preferred else {True: 0.7, False: 0.2}
    new_u = flip[record.arm == (record.preferred or "A")]
    Allocation.objects.filter(pk=record.pk).update(u=new_u)
    _rechain_from(8)
    message = _broken()
    assert "BROKEN at allocation #8" in message and "replayed minimization gives arm" in message


def test_edited_arm_with_rehashed_chain_is_found(minimized):
    record = Allocation.objects.get(sequence=12)
    Allocation.objects.filter(pk=record.pk).update(arm="B" if record.arm == "A" else "A")
    _rechain_from(12)
    assert "BROKEN at allocation #12" in _broken()


def test_edited_counts_with_rehashed_chain_are_found(minimized):
    record = Allocation.objects.get(sequence=9)
    counts = record.counts_before
    level = record.factors["subtype"]
    counts["subtype"][level]["A"] += 1
    Allocation.objects.filter(pk=record.pk).update(counts_before=counts)
    _rechain_from(9)
    message = _broken()
    assert "BROKEN at allocation #9" in message and "counts before allocation" in message


def test_removed_allocation_is_found(minimized):
    Allocation.objects.filter(sequence=3).delete()
    assert "BROKEN at allocation #4" in _broken()


def test_blocks_edited_arm_and_edited_list_are_found(site_a, coordinator_a, statistician):
    config = blocks_config(statistician, slots=8)
    for i in range(6):
        services.randomize(patient=ready_patient(site_a), factors=MIX[i % 2], user=coordinator_a)
    assert "SHA-256" in _verify()
    record = Allocation.objects.get(sequence=4)
    Allocation.objects.filter(pk=record.pk).update(arm="B" if record.arm == "A" else "A")
    _rechain_from(4)
    assert "differs from the arm of its list slot" in _broken()
    Allocation.objects.filter(pk=record.pk).update(arm=record.arm)
    _rechain_from(4)
    _verify()
    unused = BlockListEntry.objects.filter(config=config, used_by__isnull=True).first()
    BlockListEntry.objects.filter(pk=unused.pk).update(arm="B" if unused.arm == "A" else "A")
    message = _broken()
    assert "does not match its recorded SHA-256" in message
