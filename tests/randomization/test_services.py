"""The randomize service and the set-up services: refusals, records, chain, freezing, lists, e-mails."""

import io
import random

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from oligami_site import dataversion
from randomization import allocation, ledger, services
from randomization.exceptions import (
    BlockListExhausted,
    ConfigFrozen,
    ConfigInvalid,
    InvalidFactors,
    NotConfigured,
    NotReadyToRandomize,
    RandomizationError,
)
from randomization.models import Allocation, BlockListEntry, ConfigChangeAttempt, RandomizationConfig
from screening.models import Patient
from tests.factories import PatientFactory
from tests.randomization.factories import FACTORS, blocks_config, minimization_config, ready_patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stage", [Patient.Stage.SCREENING, Patient.Stage.ELIGIBLE, Patient.Stage.OFF_STUDY])
def test_patient_not_ready_is_refused(site_a, coordinator_a, stage):
    # The stage machine allows randomize for a registered patient only (its one caller, secondary
    # registration, writes the secondary registration first in the same transaction).
    minimization_config()
    patient = PatientFactory(site=site_a, stage=stage)
    with pytest.raises(NotReadyToRandomize, match="is not ready to randomize"):
        services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
    patient.refresh_from_db()
    assert patient.stage == stage
    assert not Allocation.objects.exists()


def test_user_of_another_site_and_monitor_may_not_randomize(site_a, coordinator_b, monitor_a):
    minimization_config()
    patient = ready_patient(site_a)
    for user in (coordinator_b, monitor_a):
        with pytest.raises(RandomizationError):
            services.randomize(patient=patient, factors=FACTORS, user=user)
    assert not Allocation.objects.exists()


def test_double_submit_returns_the_first_allocation(site_a, coordinator_a, investigator_a,
                                                    django_capture_on_commit_callbacks):
    minimization_config()
    patient = ready_patient(site_a)
    with django_capture_on_commit_callbacks(execute=True) as first_callbacks:
        first = services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = services.randomize(patient=Patient.objects.get(pk=patient.pk), factors=FACTORS, user=investigator_a)
    assert second.pk == first.pk and second.arm == first.arm and second.hash == first.hash
    assert Allocation.objects.count() == 1
    e_mails = [[c for c in callbacks if not isinstance(c, dataversion.Bump)]
               for callbacks in (first_callbacks, second_callbacks)]
    assert [len(c) for c in e_mails] == [1, 0]  # one result e-mail, not two


def test_one_allocation_per_patient_is_a_database_constraint(site_a, coordinator_a):
    minimization_config()
    patient = ready_patient(site_a)
    first = services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
    clone = Allocation.objects.get(pk=first.pk)
    clone.pk = None
    clone.sequence = 2
    clone.hash = "f" * 64
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_allocation_records_everything_needed_to_replay(site_a, coordinator_a):
    config = minimization_config()
    patient = ready_patient(site_a)
    record = services.randomize(patient=patient, factors={"subtype": "her2", "lesions": 3}, user=coordinator_a)
    record.refresh_from_db()
    assert record.factors == {"site": "SITEA", "subtype": "her2", "lesions": "2-3"}
    assert record.counts_before == {"site": {"SITEA": {"A": 0, "B": 0}}, "subtype": {"her2": {"A": 0, "B": 0}},
                                    "lesions": {"2-3": {"A": 0, "B": 0}}}
    assert record.imbalance == {"A": 3, "B": 3} and record.preferred == ""
    assert record.p == 0.8 and 0 <= record.u < 1
    assert record.arm == ("A" if record.u < 0.5 else "B")  # a tie is a fair coin on u
    assert record.weights == {"site": 1, "subtype": 1, "lesions": 1}
    assert record.method == "minimization" and record.algorithm_version == allocation.MINIMIZATION_VERSION
    assert record.config_id == config.pk and record.sequence == 1 and record.prev_hash == ledger.GENESIS_HASH
    assert record.hash == ledger.compute_hash(record)
    assert record.user == coordinator_a and record.signed_name == coordinator_a.printed_name
    # The hash chain's frozen signature inputs, as ever (the signature row is the secondary registration's).
    assert record.signed_at == record.allocated_at and record.signature_meaning == services.DEFAULT_SIGNATURE_MEANING
    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.RANDOMIZED
    last = patient.history.first()
    assert last.history_user == coordinator_a and "Randomized" in last.history_change_reason
    assert record.history.first().history_user == coordinator_a
    config.refresh_from_db()
    assert config.is_frozen


def test_counts_before_and_hash_chain_across_allocations(site_a, site_b, coordinator_a, coordinator_b):
    minimization_config()
    made = []
    for i in range(6):
        site, user = (site_a, coordinator_a) if i % 2 == 0 else (site_b, coordinator_b)
        made.append(services.randomize(patient=ready_patient(site), factors=FACTORS, user=user))
    records = list(Allocation.objects.order_by("sequence"))
    assert [r.sequence for r in records] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(records, records[1:], strict=False):
        assert after.prev_hash == before.hash
    last = records[-1]
    earlier = records[:-1]
    luminal = {arm: sum(1 for r in earlier if r.arm == arm) for arm in "AB"}
    at_b = {arm: sum(1 for r in earlier if r.arm == arm and r.patient.site_id == site_b.pk) for arm in "AB"}
    assert last.counts_before["subtype"]["luminal"] == luminal
    assert last.counts_before["site"]["SITEB"] == at_b
    decision = allocation.decide_minimization(last.counts_before, last.factors, last.weights, last.p, last.u)
    assert decision.arm == last.arm and decision.imbalance == last.imbalance
    call_command("verify_allocations", stdout=io.StringIO())


def test_the_tally_rows_equal_a_recount_and_verify_finds_a_wrong_one(site_a, site_b, coordinator_a, coordinator_b):
    """randomize reads its counts from AllocationTally and adds each allocation to it; verify recounts."""
    minimization_config()
    factors = [FACTORS, {**FACTORS, "lesions": "2-3"}, {**FACTORS, "subtype": "her2"}]
    for i in range(9):
        site, user = (site_a, coordinator_a) if i % 3 else (site_b, coordinator_b)
        services.randomize(patient=ready_patient(site), factors=factors[i % 3], user=user)
    assert services.stored_tallies() == services.recount_tallies()
    assert sum(services.stored_tallies().values()) == 9 * 3  # each allocation once per factor: site, subtype, lesions
    assert {level for (_c, factor, level, _a) in services.stored_tallies() if factor == "site"} == {
        str(site_a.pk), str(site_b.pk)}
    # A renamed site keeps her count: the site is tallied by id, and her next patient is counted with it.
    site_a.code = "SITEA2"
    site_a.save()
    counted_at_a = sum(1 for r in Allocation.objects.filter(patient__site=site_a))
    last = services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    assert sum(last.counts_before["site"]["SITEA2"].values()) == counted_at_a
    out = io.StringIO()
    call_command("verify_allocations", stdout=out)
    assert "rows match the allocations" in out.getvalue()
    # A tally changed behind the service's back is a broken log, named with what differs.
    from randomization.models import AllocationTally
    tally = AllocationTally.objects.filter(factor="subtype").first()
    tally.count += 1
    tally.save()
    with pytest.raises(CommandError, match="BROKEN: the allocation tally .* subtype="):
        call_command("verify_allocations", stdout=io.StringIO())
    # Rebuilt from the allocations (what bench/generate.py does after a bulk load), it verifies again.
    services.rebuild_tallies()
    assert services.stored_tallies() == services.recount_tallies()
    call_command("verify_allocations", stdout=io.StringIO())


def test_factor_values_are_checked(site_a, coordinator_a):
    minimization_config()
    patient = ready_patient(site_a)
    for bad in ({"lesions": "1"}, {"subtype": "basal", "lesions": "1"}, {"subtype": "luminal", "lesions": "4"},
                {**FACTORS, "site": "SITEB"}, {**FACTORS, "colour": "red"}):
        with pytest.raises(InvalidFactors):
            services.randomize(patient=patient, factors=bad, user=coordinator_a)
    assert not Allocation.objects.exists()


def test_not_configured_is_a_clear_error_and_alerts_data_managers(site_a, coordinator_a, data_manager):
    with pytest.raises(NotConfigured) as refused:
        services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    # The test's transaction is still open: no mail under it; the caller sends the alert once it has ended.
    assert mail.outbox == []
    services.send_pending_alert(refused.value)
    services.send_pending_alert(refused.value)  # at most once
    assert [m.to for m in mail.outbox] == [[data_manager.email]]


# ---- set-up ----------------------------------------------------------------------------------------


def test_p_one_and_p_at_or_below_half_are_refused_and_high_p_warns(statistician):
    for p in (1, 1.0, 0.5, 0.3, 0, float("nan")):
        with pytest.raises(ConfigInvalid) as refused:
            services.create_config(user=statistician, method="minimization", factors=["site"], weights={}, p=p,
                                   block_sizes=[4])
        assert refused.value.field == "p"
    config, warnings = services.create_config(user=statistician, method="minimization", factors=["site", "subtype"],
                                              weights={}, p=0.95, block_sizes=[4])
    assert len(warnings) == 1 and "0.95" in str(warnings[0])
    _config, warnings, _ = services.update_config(config=config, user=statistician, p=0.8)
    assert warnings == []
    assert RandomizationConfig.objects.get(active=True).p == 0.8


def test_database_refuses_p_one_even_without_the_service(statistician):
    config = minimization_config(statistician)
    config.p = 1
    with pytest.raises(IntegrityError), transaction.atomic():
        config.save()


def test_blocks_refuse_site_as_stratum_and_odd_sizes(statistician):
    with pytest.raises(ConfigInvalid):
        services.create_config(user=statistician, method="blocks", factors=["site", "subtype"], weights={}, p=0.8,
                               block_sizes=[4])
    with pytest.raises(ConfigInvalid):
        services.create_config(user=statistician, method="blocks", factors=["subtype"], weights={}, p=0.8,
                               block_sizes=[3, 4])


def test_config_is_frozen_after_the_first_allocation_and_attempts_are_recorded(site_a, coordinator_a,
                                                                                 statistician):
    config = minimization_config(statistician)
    _config, _w, _d = services.update_config(config=config, user=statistician, p=0.85)  # before go-live: fine
    services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    config.refresh_from_db()
    assert config.frozen_at is not None
    with pytest.raises(ConfigFrozen):
        services.update_config(config=config, user=statistician, p=0.7)
    with pytest.raises(ConfigFrozen):
        services.create_config(user=statistician, method="minimization", factors=["site"], weights={}, p=0.8,
                               block_sizes=[4])
    with pytest.raises(ConfigFrozen):
        services.generate_block_list(config=config, user=statistician)
    config.refresh_from_db()
    assert config.p == 0.85 and RandomizationConfig.objects.count() == 1
    attempts = list(ConfigChangeAttempt.objects.order_by("id"))
    assert [a.action for a in attempts] == ["change", "create", "generate_block_list"]
    assert attempts[0].user == statistician and attempts[0].attempted == {"p": 0.7}
    assert "frozen" in attempts[0].refusal


def test_frozen_refusal_is_recorded_even_inside_a_failing_outer_transaction(site_a, coordinator_a, statistician):
    config = minimization_config(statistician)
    services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    with pytest.raises(ConfigFrozen):
        services.update_config(config=config, user=statistician, factors=["site"])
    assert ConfigChangeAttempt.objects.filter(user=statistician).count() == 1


# ---- permuted blocks ---------------------------------------------------------------------------------


def test_block_list_generation_records_seed_and_sha256(statistician):
    config = blocks_config(statistician, slots=6, seed=77)
    entries = BlockListEntry.objects.filter(config=config)
    assert config.block_list_size == entries.count() and config.block_list_size >= 6 * 6
    assert set(entries.values_list("stratum", flat=True)) == set(allocation.DEFAULT_STRATA)
    assert config.block_list_seed == "77"
    assert config.block_list_sha256 == allocation.block_list_sha256(services.stored_block_list(config))
    expected = allocation.generate_block_list(allocation.DEFAULT_STRATA, (2, 4), rng=random.Random(77),
                                              n_per_stratum=6)
    assert config.block_list_sha256 == allocation.block_list_sha256(expected)
    # regenerated before go-live with a fresh secret seed: a different list replaces the old one
    again = services.generate_block_list(config=config, user=statistician)
    assert again.block_list_seed != "77" and BlockListEntry.objects.filter(config=config).count() == \
        again.block_list_size


def test_changing_block_sizes_discards_the_list(statistician):
    config = blocks_config(statistician)
    _config, _w, discarded = services.update_config(config=config, user=statistician, block_sizes=[4, 6])
    config.refresh_from_db()
    assert discarded and config.block_list_size == 0 and config.block_list_sha256 == ""
    assert not BlockListEntry.objects.filter(config=config).exists()


def test_blocks_take_slots_in_order_per_stratum(site_a, coordinator_a, statistician):
    config = blocks_config(statistician, slots=4)
    made = [services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
            for _ in range(3)]
    entries = list(BlockListEntry.objects.filter(config=config, stratum="luminal|1").order_by("position")[:3])
    assert [m.block_entry_id for m in made] == [e.pk for e in entries]
    assert [m.arm for m in made] == [e.arm for e in entries]
    assert all(m.stratum == "luminal|1" and m.method == "blocks" and m.u is None for m in made)
    call_command("verify_allocations", stdout=io.StringIO())


def test_exhausted_list_is_a_clear_error_and_alerts_data_managers(site_a, coordinator_a, statistician,
                                                                  data_manager):
    config = blocks_config(statistician, slots=2, block_sizes=(2,))
    for _ in range(2):
        services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    third = ready_patient(site_a)
    mail.outbox.clear()
    # Inside the caller's transaction (secondary registration), which rolls back: the alert still goes out,
    # after the transaction (and its configuration lock) has ended.
    with pytest.raises(BlockListExhausted) as refused, transaction.atomic():
        services.randomize(patient=third, factors=FACTORS, user=coordinator_a)
    assert mail.outbox == []
    services.send_pending_alert(refused.value)
    assert "used up" in refused.value.message and "data centre has been alerted" in refused.value.message
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [data_manager.email]
    assert third.screening_number in mail.outbox[0].body and "luminal|1" in mail.outbox[0].body
    third.refresh_from_db()
    assert third.stage == Patient.Stage.REGISTERED and not Allocation.objects.filter(patient=third).exists()
    # other strata still allocate
    services.randomize(patient=third, factors={"subtype": "tnbc", "lesions": "1"}, user=coordinator_a)
    assert Allocation.objects.filter(config=config).count() == 3


# ---- e-mail --------------------------------------------------------------------------------------------


def test_result_email_goes_to_site_coordinators_and_investigators_after_commit(
        site_a, coordinator_a, investigator_a, monitor_a, coordinator_b, django_capture_on_commit_callbacks):
    minimization_config()
    patient = ready_patient(site_a, initials="QZ")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
    assert mail.outbox == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([coordinator_a.email, investigator_a.email])
    html = message.alternatives[0][0]
    for body in (message.body, html, message.subject):
        assert patient.screening_number in body
        assert "QZ" not in body  # screening number only, no initials or names
    assert f"arm {record.arm}" in message.subject
    assert f"/randomization/patient/{patient.pk}/" in message.body


def test_no_email_when_the_callers_transaction_rolls_back(site_a, coordinator_a, investigator_a,
                                                          django_capture_on_commit_callbacks):
    minimization_config()
    patient = ready_patient(site_a)
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
        raise RuntimeError("secondary registration failed after randomize")
    assert callbacks == [] and mail.outbox == [] and not Allocation.objects.exists()
