"""Unit tests of the pure allocation methods (protocol/RANDOMIZATION.md), worked by hand."""

import hashlib
import math
import random

import pytest

from randomization.allocation import (
    ALGORITHM_VERSION,
    ALGORITHM_VERSIONS,
    DEFAULT_STRATA,
    BlockSlot,
    MinimizationDecision,
    block_list_sha256,
    canonical_block_list_json,
    decide_minimization,
    generate_block_list,
    generate_stratum_blocks,
    imbalance_scores,
    iter_slots,
    minimize,
    simple,
    stratum_key,
    validate_block_sizes,
    validate_p,
    validate_weights,
)

LEVELS = {"site": "s1", "subtype": "luminal", "lesions": "1"}


def counts_of(site, subtype, lesions):
    """Counts for the patient's levels only, each argument an (A, B) pair."""
    return {
        "site": {"s1": {"A": site[0], "B": site[1]}},
        "subtype": {"luminal": {"A": subtype[0], "B": subtype[1]}},
        "lesions": {"1": {"A": lesions[0], "B": lesions[1]}},
    }


class FixedRandom:
    """A random source that returns given draws and counts the calls."""

    def __init__(self, *draws):
        self.draws = list(draws)
        self.calls = 0

    def random(self):
        self.calls += 1
        return self.draws.pop(0)


# --- versions --------------------------------------------------------------------------------------


def test_versions_are_named_per_method():
    assert set(ALGORITHM_VERSIONS) == {"minimization", "blocks", "simple"}
    assert all(isinstance(v, str) and v for v in ALGORITHM_VERSIONS.values())
    assert isinstance(ALGORITHM_VERSION, str) and ALGORITHM_VERSION


# --- imbalance scores ------------------------------------------------------------------------------


def test_imbalance_empty_counts_is_a_tie_of_one_per_factor():
    assert imbalance_scores({}, LEVELS) == {"A": 3, "B": 3}


def test_imbalance_worked_example():
    # site A1 B2 (A-B = -1), subtype A3 B3 (0), lesions A0 B1 (-1)
    # to A: |0| + |1| + |0| = 1 ; to B: |-2| + |-1| + |-2| = 5
    assert imbalance_scores(counts_of((1, 2), (3, 3), (0, 1)), LEVELS) == {"A": 1, "B": 5}


def test_imbalance_uses_only_the_patients_levels():
    counts = counts_of((1, 2), (3, 3), (0, 1))
    counts["site"]["s2"] = {"A": 40, "B": 0}  # another site must not matter
    assert imbalance_scores(counts, LEVELS) == {"A": 1, "B": 5}


def test_imbalance_missing_level_or_arm_counts_zero():
    counts = {"site": {"s1": {"A": 2}}}  # no B key, no subtype, no lesions
    # site: to A |3| to B |1| ; subtype and lesions: 1 each way
    assert imbalance_scores(counts, LEVELS) == {"A": 5, "B": 3}


def test_imbalance_weights():
    # site A3 B1 (+2), subtype A0 B1 (-1), lesions A1 B2 (-1)
    counts = counts_of((3, 1), (0, 1), (1, 2))
    assert imbalance_scores(counts, LEVELS) == {"A": 3 + 0 + 0, "B": 1 + 2 + 2}
    weights = {"site": 3, "subtype": 1, "lesions": 1}
    assert imbalance_scores(counts, LEVELS, weights) == {"A": 9, "B": 3 + 2 + 2}


# --- decide_minimization ---------------------------------------------------------------------------


def test_tie_on_empty_counts_is_a_fair_coin_with_u_at_half_going_to_b():
    d = decide_minimization({}, LEVELS, None, 0.8, 0.4999)
    assert (d.arm, d.preferred, d.imbalance) == ("A", None, {"A": 3, "B": 3})
    assert decide_minimization({}, LEVELS, None, 0.8, 0.5).arm == "B"
    assert decide_minimization({}, LEVELS, None, 0.8, 0.0).arm == "A"
    assert decide_minimization({}, LEVELS, None, 0.8, 0.9999).arm == "B"


def test_tie_with_nonzero_counts_ignores_p():
    # site A2 B1 (+1), subtype A0 B1 (-1), lesions A1 B1 (0): to A 2+0+1 = 3, to B 0+2+1 = 3
    counts = counts_of((2, 1), (0, 1), (1, 1))
    d = decide_minimization(counts, LEVELS, None, 0.9, 0.7)
    assert d.preferred is None and d.imbalance == {"A": 3, "B": 3} and d.arm == "B"


def test_preferred_arm_chosen_when_u_below_p_and_other_arm_at_u_equal_p():
    counts = counts_of((1, 2), (3, 3), (0, 1))  # A scores 1, B scores 5: A preferred
    assert decide_minimization(counts, LEVELS, None, 0.8, 0.0).arm == "A"
    assert decide_minimization(counts, LEVELS, None, 0.8, 0.7999).arm == "A"
    at_p = decide_minimization(counts, LEVELS, None, 0.8, 0.8)
    assert (at_p.arm, at_p.preferred) == ("B", "A")
    assert decide_minimization(counts, LEVELS, None, 0.8, 0.95).arm == "B"


def test_preferred_b_mirror():
    counts = counts_of((2, 1), (3, 3), (1, 0))  # mirror: B scores 1, A scores 5
    d = decide_minimization(counts, LEVELS, None, 0.7, 0.69)
    assert (d.arm, d.preferred, d.imbalance) == ("B", "B", {"A": 5, "B": 1})
    assert decide_minimization(counts, LEVELS, None, 0.7, 0.7).arm == "A"


def test_weights_can_reverse_the_preference():
    counts = counts_of((3, 1), (0, 1), (1, 2))
    assert decide_minimization(counts, LEVELS, None, 0.8, 0.1).preferred == "A"
    d = decide_minimization(counts, LEVELS, {"site": 3, "subtype": 1, "lesions": 1}, 0.8, 0.1)
    assert (d.preferred, d.arm, d.imbalance) == ("B", "B", {"A": 9, "B": 7})


def test_zero_weight_factor_is_ignored():
    counts = counts_of((5, 0), (0, 0), (0, 0))  # only the site is unbalanced
    d = decide_minimization(counts, LEVELS, {"site": 0, "subtype": 1, "lesions": 1}, 0.8, 0.1)
    assert d.preferred is None and d.imbalance == {"A": 2, "B": 2}


def test_fractional_weights():
    counts = counts_of((1, 0), (0, 0), (0, 0))
    d = decide_minimization(counts, LEVELS, {"site": 0.5, "subtype": 1, "lesions": 1}, 0.8, 0.1)
    assert d.imbalance == {"A": 3.0, "B": 2.0} and d.preferred == "B"


def test_p_of_one_is_accepted_by_the_pure_function():
    counts = counts_of((1, 2), (3, 3), (0, 1))
    assert decide_minimization(counts, LEVELS, None, 1, 0.99999).arm == "A"


def test_decision_is_a_replayable_record():
    counts = counts_of((1, 2), (3, 3), (0, 1))
    d = decide_minimization(counts, LEVELS, None, 0.8, 0.25)
    assert d == MinimizationDecision(arm="A", imbalance={"A": 1, "B": 5}, preferred="A", p=0.8, u=0.25)
    assert d.to_dict() == {"arm": "A", "imbalance": {"A": 1, "B": 5}, "preferred": "A", "p": 0.8, "u": 0.25}
    assert decide_minimization(counts, LEVELS, None, d.p, d.u) == d


@pytest.mark.parametrize("u", [1.0, -0.0001, 1.5, math.nan, math.inf, "0.3", None])
def test_decide_refuses_u_outside_unit_interval(u):
    with pytest.raises(ValueError, match="u must"):
        decide_minimization({}, LEVELS, None, 0.8, u)


@pytest.mark.parametrize("p", [0.5, 0.3, 1.0001, math.nan, True, "0.8"])
def test_decide_refuses_p_outside_half_to_one(p):
    with pytest.raises(ValueError, match="p must"):
        decide_minimization({}, LEVELS, None, p, 0.1)


def test_decide_refuses_missing_weight_and_empty_levels():
    with pytest.raises(ValueError, match="no weight"):
        decide_minimization({}, LEVELS, {"site": 1, "subtype": 1}, 0.8, 0.1)
    with pytest.raises(ValueError, match="no factor levels"):
        decide_minimization({}, {}, None, 0.8, 0.1)


# --- validate_p and minimize -----------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.51, 0.7, 0.8, 0.9, 0.9499])
def test_validate_p_accepts_without_warning(p):
    assert validate_p(p) == []


@pytest.mark.parametrize("p", [0.95, 0.99, 0.999999])
def test_validate_p_warns_when_nearly_deterministic(p):
    warnings = validate_p(p)
    assert len(warnings) == 1 and "0.95" in warnings[0]


@pytest.mark.parametrize("p", [1, 1.0, 1.2, 0.5, 0.08, 0, -1, math.nan, math.inf, None, "0.8", True])
def test_validate_p_refuses(p):
    with pytest.raises(ValueError):
        validate_p(p)


def test_minimize_draws_u_exactly_once_and_passes_it_on():
    counts = counts_of((1, 2), (3, 3), (0, 1))
    rng = FixedRandom(0.8, 0.1)
    d = minimize(counts, LEVELS, None, 0.8, rng)
    assert rng.calls == 1 and d.u == 0.8 and d.arm == "B"


def test_minimize_with_seeded_random_matches_replay():
    counts = counts_of((1, 2), (3, 3), (0, 1))
    d = minimize(counts, LEVELS, None, 0.8, random.Random(7))
    assert d.u == random.Random(7).random()
    assert decide_minimization(counts, LEVELS, None, 0.8, d.u) == d


def test_minimize_refuses_configurations():
    with pytest.raises(ValueError):
        minimize({}, LEVELS, None, 1, random.Random(1))
    with pytest.raises(ValueError):
        minimize({}, LEVELS, None, 0.5, random.Random(1))
    with pytest.raises(ValueError):
        minimize({}, LEVELS, {"site": 0, "subtype": 0, "lesions": 0}, 0.8, random.Random(1))
    with pytest.raises(ValueError):
        minimize({}, LEVELS, {"site": -1, "subtype": 1, "lesions": 1}, 0.8, random.Random(1))


def test_validate_weights():
    validate_weights({"site": 1, "subtype": 2.5}, factors=["subtype", "site"])
    for bad in ({}, {"site": 0}, {"site": math.nan}, {"site": True}, {"site": "1"}, {"site": -0.1}):
        with pytest.raises(ValueError):
            validate_weights(bad)
    with pytest.raises(ValueError, match="expected"):
        validate_weights({"site": 1}, factors=["site", "subtype"])


# --- permuted blocks -------------------------------------------------------------------------------


def test_default_strata_are_subtype_by_lesions():
    assert DEFAULT_STRATA == ("luminal|1", "luminal|2-3", "her2|1", "her2|2-3", "tnbc|1", "tnbc|2-3")
    assert stratum_key("her2", "2-3") == "her2|2-3"


@pytest.mark.parametrize("sizes", [(), (3,), (4, 5), (0,), (-2,), (4.0,), (True,), ("4",)])
def test_block_sizes_validation(sizes):
    with pytest.raises(ValueError):
        validate_block_sizes(sizes)


def test_block_sizes_are_a_set():
    assert validate_block_sizes([6, 4, 4]) == (4, 6)


def test_block_list_blocks_balanced_and_sizes_from_the_set():
    blist = generate_block_list(rng=random.Random(2110), blocks_per_stratum=25)
    assert list(blist) == list(DEFAULT_STRATA)
    sizes_seen = set()
    for blocks in blist.values():
        assert len(blocks) == 25
        for block in blocks:
            assert len(block) in (4, 6)
            assert block.count("A") == block.count("B") == len(block) // 2
            sizes_seen.add(len(block))
    assert sizes_seen == {4, 6}


def test_block_list_deterministic_given_seed_and_differs_across_seeds():
    a = generate_block_list(rng=random.Random(11), n_per_stratum=60)
    b = generate_block_list(rng=random.Random(11), n_per_stratum=60)
    c = generate_block_list(rng=random.Random(12), n_per_stratum=60)
    assert a == b and block_list_sha256(a) == block_list_sha256(b)
    assert a != c and block_list_sha256(a) != block_list_sha256(c)


def test_block_list_order_of_sizes_does_not_matter():
    a = generate_block_list(block_sizes=(4, 6), rng=random.Random(5), blocks_per_stratum=10)
    b = generate_block_list(block_sizes=[6, 4], rng=random.Random(5), blocks_per_stratum=10)
    assert a == b


def test_block_list_n_per_stratum_gives_whole_blocks_covering_n():
    blist = generate_block_list(["x", "y"], (2, 4, 6), rng=random.Random(3), n_per_stratum=61)
    for blocks in blist.values():
        total = sum(len(b) for b in blocks)
        assert 61 <= total < 61 + 6
        assert total - len(blocks[-1]) < 61  # no surplus block
    assert generate_stratum_blocks((4,), random.Random(1), n=0) == []


def test_block_list_argument_errors():
    rng = random.Random(1)
    with pytest.raises(ValueError):
        generate_block_list(rng=rng)
    with pytest.raises(ValueError):
        generate_block_list(rng=rng, n_per_stratum=4, blocks_per_stratum=1)
    with pytest.raises(ValueError):
        generate_block_list([], rng=rng, n_per_stratum=4)
    with pytest.raises(ValueError):
        generate_block_list(["a", "a"], rng=rng, n_per_stratum=4)
    with pytest.raises(ValueError):
        generate_block_list(["a", ""], rng=rng, n_per_stratum=4)
    with pytest.raises(ValueError):
        generate_block_list(["a"], (4, 5), rng=rng, n_per_stratum=4)
    with pytest.raises(ValueError):
        generate_block_list(["a"], rng=rng, n_per_stratum=-1)
    with pytest.raises(ValueError):
        generate_stratum_blocks((4,), rng, n=2.5)


def test_iter_slots_flattens_in_allocation_order():
    blist = {"x": [["A", "B"], ["B", "B", "A", "A"]], "y": [["B", "A"]]}
    assert list(iter_slots(blist)) == [
        BlockSlot("x", 1, 1, 2, "A"),
        BlockSlot("x", 2, 1, 2, "B"),
        BlockSlot("x", 3, 2, 4, "B"),
        BlockSlot("x", 4, 2, 4, "B"),
        BlockSlot("x", 5, 2, 4, "A"),
        BlockSlot("x", 6, 2, 4, "A"),
        BlockSlot("y", 1, 1, 2, "B"),
        BlockSlot("y", 2, 1, 2, "A"),
    ]


def test_sha256_recomputable_from_the_documented_serialization():
    blist = {"luminal|1": [["B", "A"]], "her2|1": [["A", "B", "B", "A"]]}
    documented = b'{"her2|1":[["A","B","B","A"]],"luminal|1":[["B","A"]]}'
    assert canonical_block_list_json(blist) == documented
    assert block_list_sha256(blist) == hashlib.sha256(documented).hexdigest()
    # stable: key order of the mapping is irrelevant
    assert block_list_sha256(dict(reversed(list(blist.items())))) == block_list_sha256(blist)


def test_sha256_changes_when_one_entry_changes():
    blist = generate_block_list(rng=random.Random(2110), n_per_stratum=40)
    before = block_list_sha256(blist)
    blist["tnbc|2-3"][3][0] = "B" if blist["tnbc|2-3"][3][0] == "A" else "A"
    assert block_list_sha256(blist) != before


def test_sha256_golden_value_pins_the_generator():
    # If this changes for the same seed, the generator changed: bump BLOCKS_VERSION.
    blist = generate_block_list(rng=random.Random(2110), blocks_per_stratum=2)
    assert block_list_sha256(blist) == GOLDEN_SHA256


GOLDEN_SHA256 = "dbc1c19b2b348361f0c0dad3a87eeecd299775daaf13d8dba30b0e96fcffc91a"


# --- simple ----------------------------------------------------------------------------------------


def test_simple_is_a_fair_coin_on_one_draw():
    assert simple(FixedRandom(0.4999)) == "A"
    assert simple(FixedRandom(0.5)) == "B"
    rng = random.Random(1)
    arms = [simple(rng) for _ in range(2000)]
    assert 900 < arms.count("A") < 1100
    rng2 = random.Random(1)
    assert arms == [simple(rng2) for _ in range(2000)]
