"""Replay the allocation log and report the first break (exit status 1), or OK with counts.

For every allocation in sequence order: the sequence has no gap, prev_hash is the previous
allocation's hash, the stored hash is the SHA-256 of its content (randomization/ledger.py), the
recorded counts before allocation equal the counts of the allocations before it, and the decision
replays: minimization through allocation.decide_minimization from the recorded counts, levels,
weights, p and u; blocks through the used list slot's arm. The stored allocation list is checked
against the SHA-256 recorded before go-live, and the tally rows randomize counts from against a recount.
Nothing printed reveals an unused slot.
"""

import random
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from randomization import allocation, ledger
from randomization import factors as fx
from randomization.models import Allocation, Method, RandomizationConfig
from randomization.services import recount_tallies, stored_block_list, stored_tallies, tally_level


class Break(Exception):
    pass


def _check_decision(record):
    if record.method == Method.MINIMIZATION:
        if record.algorithm_version != allocation.MINIMIZATION_VERSION:
            raise Break(f"unknown algorithm version {record.algorithm_version!r}")
        try:
            decision = allocation.decide_minimization(record.counts_before, record.factors, record.weights,
                                                      record.p, record.u)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise Break(f"the recorded decision inputs cannot be replayed ({exc})")
        if decision.arm != record.arm:
            raise Break(f"replayed minimization gives arm {decision.arm}, recorded arm is {record.arm} "
                        f"(u={record.u!r}, p={record.p!r})")
        if record.imbalance != decision.imbalance:
            raise Break(f"recorded imbalance {record.imbalance} differs from the replay {decision.imbalance}")
        if record.preferred != (decision.preferred or ""):
            raise Break(f"recorded preferred arm {record.preferred!r} differs from the replay")
    elif record.method == Method.BLOCKS:
        if record.algorithm_version != allocation.BLOCKS_VERSION:
            raise Break(f"unknown algorithm version {record.algorithm_version!r}")
        entry = record.block_entry
        if entry is None:
            raise Break("no list slot recorded")
        if entry.config_id != record.config_id or entry.stratum != record.stratum:
            raise Break("the list slot belongs to another configuration or stratum")
        if entry.arm != record.arm:
            raise Break(f"recorded arm {record.arm} differs from the arm of its list slot")
    else:
        raise Break(f"unknown method {record.method!r}")


def _check_counts(record, tallies):
    for key, level in record.factors.items():
        tally_key = (key, tally_level(key, level, record.patient.site_id))
        expected = {arm: tallies[(tally_key, arm)] for arm in allocation.ARMS}
        recorded = (record.counts_before or {}).get(key, {}).get(level)
        if recorded != expected:
            raise Break(f"recorded counts before allocation for {key}={level} are {recorded}, "
                        f"the allocations before it give {expected}")


def _in_sequence(batch=500):
    """Every allocation in sequence order, in batches by keyset (no server-side cursor is left open when
    the replay stops at a break: an abandoned cursor would be closed by the garbage collector later,
    in the middle of another query on the same connection)."""
    last = 0
    while True:
        chunk = list(Allocation.objects.select_related("patient", "block_entry").filter(sequence__gt=last)
                     .order_by("sequence")[:batch])
        yield from chunk
        if len(chunk) < batch:
            return
        last = chunk[-1].sequence


class Command(BaseCommand):
    help = "Verify the tamper-evident allocation log: hash chain, counts and every decision."

    def handle(self, *args, **options):
        previous_hash = ledger.GENESIS_HASH
        expected_sequence = 1
        arms = Counter()
        tallies = Counter()
        for record in _in_sequence():
            try:
                if record.sequence != expected_sequence:
                    raise Break(f"sequence {record.sequence} where {expected_sequence} was expected "
                                "(an allocation is missing or renumbered)")
                if record.prev_hash != previous_hash:
                    raise Break("prev_hash does not match the previous allocation's hash (chain broken)")
                if ledger.compute_hash(record) != record.hash:
                    raise Break("the stored hash does not match the allocation's content (a recorded value "
                                "was changed)")
                _check_counts(record, tallies)
                _check_decision(record)
            except Break as exc:
                raise CommandError(f"BROKEN at allocation #{record.sequence} (id {record.pk}, patient "
                                   f"{record.patient.screening_number}): {exc}")
            previous_hash = record.hash
            expected_sequence += 1
            arms[record.arm] += 1
            for key, level in record.factors.items():
                tallies[((key, tally_level(key, level, record.patient.site_id)), record.arm)] += 1

        for config in RandomizationConfig.objects.exclude(block_list_sha256=""):
            if allocation.block_list_sha256(stored_block_list(config)) != config.block_list_sha256:
                raise CommandError(f"BROKEN: the stored allocation list of configuration #{config.pk} does not "
                                   "match its recorded SHA-256")
            # The recorded seed must regenerate the same list (the list is reproducible, never shown).
            regenerated = allocation.generate_block_list(
                fx.strata(config.factors), config.block_sizes, rng=random.Random(int(config.block_list_seed)),  # noqa: S311
                n_per_stratum=config.slots_per_stratum)
            if allocation.block_list_sha256(regenerated) != config.block_list_sha256:
                raise CommandError(f"BROKEN: the recorded seed of configuration #{config.pk} does not regenerate "
                                   "its allocation list")
            self.stdout.write(f"Allocation list of configuration #{config.pk}: SHA-256 {config.block_list_sha256} OK "
                              f"({config.block_list_size} slots)")

        # The tally rows randomize reads its counts from must equal a recount of the allocations.
        recounted, stored = recount_tallies(), stored_tallies()
        if recounted != stored:
            wrong = sorted(set(recounted) ^ set(stored) | {k for k in recounted if recounted[k] != stored.get(k)})
            config_id, factor, level, arm = wrong[0]
            raise CommandError(f"BROKEN: the allocation tally of configuration #{config_id} {factor}={level} arm {arm} "
                               f"is {stored.get(wrong[0], 0)}, the allocations give {recounted.get(wrong[0], 0)} "
                               f"({len(wrong)} tally row(s) differ)")
        self.stdout.write(f"Allocation tallies: {len(stored)} rows match the allocations")

        total = expected_sequence - 1
        self.stdout.write(self.style.SUCCESS(
            f"OK: {total} allocations verified (A {arms[allocation.ARM_A]}, B {arms[allocation.ARM_B]}); "
            f"chain head {previous_hash}"))
