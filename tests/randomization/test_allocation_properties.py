"""Property tests of the allocation methods (hypothesis)."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from randomization.allocation import (
    block_list_sha256,
    decide_minimization,
    generate_block_list,
    generate_stratum_blocks,
    imbalance_scores,
    iter_slots,
    minimize,
)

block_sizes = st.lists(st.sampled_from([2, 4, 6, 8, 10, 12]), min_size=1, max_size=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
arm_counts = st.fixed_dictionaries({"A": st.integers(0, 40), "B": st.integers(0, 40)})


@st.composite
def minimization_inputs(draw):
    """A patient's levels on 1-4 factors, the counts in those levels, and optional integer weights."""
    n = draw(st.integers(1, 4))
    factors = [f"f{i}" for i in range(n)]
    levels = {f: draw(st.sampled_from(["x", "y", "z"])) for f in factors}
    counts = {f: {levels[f]: draw(arm_counts)} for f in factors}
    weights = draw(st.none() | st.fixed_dictionaries({f: st.integers(0, 3) for f in factors}))
    return counts, levels, weights


@given(sizes=block_sizes, n=st.integers(0, 120), seed=seeds)
def test_every_block_balanced_and_every_block_boundary_prefix_balanced(sizes, n, seed):
    blocks = generate_stratum_blocks(sizes, random.Random(seed), n=n)
    a_minus_b = 0
    for block in blocks:
        assert len(block) in sizes
        assert block.count("A") == block.count("B")
        a_minus_b += block.count("A") - block.count("B")
        assert a_minus_b == 0  # the prefix ending at this block boundary
    total = sum(len(b) for b in blocks)
    assert n <= total < n + max(sizes)


@given(sizes=block_sizes, k=st.integers(1, 30), seed=seeds)
def test_block_list_prefix_imbalance_never_exceeds_half_the_largest_block(sizes, k, seed):
    blist = generate_block_list(["s1", "s2"], sizes, rng=random.Random(seed), blocks_per_stratum=k)
    diff = {"s1": 0, "s2": 0}
    for slot in iter_slots(blist):
        diff[slot.stratum] += 1 if slot.arm == "A" else -1
        assert abs(diff[slot.stratum]) <= slot.block_size // 2
    assert diff == {"s1": 0, "s2": 0}


@given(sizes=block_sizes, seed=seeds, k=st.integers(1, 10), data=st.data())
def test_sha256_changes_when_any_single_entry_flips(sizes, seed, k, data):
    blist = generate_block_list(["s1", "s2"], sizes, rng=random.Random(seed), blocks_per_stratum=k)
    before = block_list_sha256(blist)
    stratum = data.draw(st.sampled_from(["s1", "s2"]))
    b = data.draw(st.integers(0, k - 1))
    i = data.draw(st.integers(0, len(blist[stratum][b]) - 1))
    blist[stratum][b][i] = "B" if blist[stratum][b][i] == "A" else "A"
    assert block_list_sha256(blist) != before


@given(inputs=minimization_inputs(), u=unit)
def test_deterministic_minimization_always_chooses_a_minimal_imbalance_arm(inputs, u):
    counts, levels, weights = inputs
    d = decide_minimization(counts, levels, weights, 1, u)
    assert d.imbalance[d.arm] == min(d.imbalance.values())
    if d.preferred is not None:
        assert d.arm == d.preferred


@given(inputs=minimization_inputs(), u=unit, p=st.floats(min_value=0.5, max_value=1.0, exclude_min=True))
def test_decision_is_deterministic_and_follows_its_rule(inputs, u, p):
    counts, levels, weights = inputs
    d = decide_minimization(counts, levels, weights, p, u)
    assert decide_minimization(counts, levels, weights, p, u) == d  # replay
    assert d.imbalance == imbalance_scores(counts, levels, weights)
    if d.imbalance["A"] == d.imbalance["B"]:
        assert d.preferred is None and d.arm == ("A" if u < 0.5 else "B")
    else:
        assert d.imbalance[d.preferred] < min(d.imbalance.values()) + 1e-12
        assert (d.arm == d.preferred) == (u < p)


@settings(max_examples=50)
@given(inputs=minimization_inputs(), seed=seeds, p=st.sampled_from([0.6, 0.7, 0.8, 0.9]))
def test_minimize_replays_from_stored_counts_and_u(inputs, seed, p):
    counts, levels, weights = inputs
    if weights is not None and not any(weights.values()):
        weights = None  # all-zero weights are refused by configuration
    live = minimize(counts, levels, weights, p, random.Random(seed))
    assert live.u == random.Random(seed).random()
    assert decide_minimization(counts, levels, weights, live.p, live.u) == live


@given(inputs=minimization_inputs())
def test_scores_are_symmetric_under_swapping_arms(inputs):
    counts, levels, weights = inputs
    swapped = {f: {lv: {"A": c["B"], "B": c["A"]} for lv, c in m.items()} for f, m in counts.items()}
    s, t = imbalance_scores(counts, levels, weights), imbalance_scores(swapped, levels, weights)
    assert (s["A"], s["B"]) == (t["B"], t["A"])
