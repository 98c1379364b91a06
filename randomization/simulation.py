"""Monte-Carlo simulation of balance and predictability (protocol/RANDOMIZATION.md, "Simulation command").

No Django imports: the ``simulate_randomization`` management command parses its options, calls
:func:`simulate` and prints the dict (``--json``) or :func:`format_table`.

The simulation reuses the live algorithms of :mod:`randomization.allocation` (``minimize``,
``generate_stratum_blocks`` - the generator behind ``generate_block_list`` - and ``simple``), never a
copy, so a figure here is a figure of the code that allocates patients.

Model: each trial has ``patients`` patients drawn independently: site with probability proportional
to its weight, subtype (luminal, her2, tnbc) and remaining lesions ("1", "2-3") from their
probabilities. Patients are then allocated in order. Counts are kept incrementally.

Definitions (all measured at the end of each trial, then mean and p95 over ``reps`` trials):

* ``abs_diff``: |A - B| overall.
* ``max_marginal``: the largest |A - B| over every level of every factor (sites, subtypes, lesions).
* ``max_subtype_lesion``: the largest |A - B| over the 5 subtype and lesion levels.
* ``max_site``: the largest |A - B| over sites; ``max_cell``: over the 6 subtype x lesion cells.
* ``guess_design``: the share of allocations a convergence guesser gets right, before each patient:
  minimization - the arm the algorithm favours given all factor counts (``decision.preferred``);
  blocks and simple - the arm with fewer patients so far in the patient's subtype x lesion stratum.
  A tie scores 0.5.
* ``guess_site``: the same guesser using the arm with fewer patients so far at the patient's site.
* p95: the empirical 95th percentile by the inverted CDF, the smallest observed x with at least 95 %
  of reps <= x.
* ``mcse``: Monte-Carlo standard error of each mean (sample SD over reps / sqrt(reps)).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import accumulate

from randomization.allocation import (
    ARM_A,
    ARM_B,
    DEFAULT_BLOCK_SIZES,
    DEFAULT_P,
    LESION_LEVELS,
    SUBTYPES,
    generate_stratum_blocks,
    minimize,
    simple,
    stratum_key,
    validate_block_sizes,
    validate_p,
)

METHODS = ("minimization", "blocks", "simple")
DEFAULT_SEED = 2110  # JCOG2110
DEFAULT_PATIENTS = 240
DEFAULT_REPS = 2000
DEFAULT_SUBTYPE_PROBS = (0.6, 0.25, 0.15)
DEFAULT_LESION_PROBS = (0.5, 0.5)
DEFAULT_SITE_WEIGHTS = (15, 12, 10, 9, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2)

# The per-trial measures whose mean is reported, and those whose p95 is reported.
MEAN_KEYS = ("abs_diff", "max_marginal", "max_site", "max_cell", "guess_design", "guess_site")
P95_KEYS = ("abs_diff", "max_marginal", "max_subtype_lesion", "max_site", "max_cell")
# The figures of the contract's JSON object, in the order of RANDOMIZATION.md's table.
RESULT_KEYS = (
    "abs_diff_mean", "abs_diff_p95", "max_marginal_mean", "max_marginal_p95", "max_subtype_lesion_p95",
    "max_site_mean", "max_site_p95", "max_cell_mean", "max_cell_p95", "guess_design", "guess_site",
)  # fmt: skip


def percentile_inverted_cdf(values: Sequence[float], q: float = 0.95) -> float:
    """The smallest observed x such that at least a share q of the values are <= x."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    k = max(1, math.ceil(q * len(ordered) - 1e-9))  # 1-based rank; the epsilon guards 0.95*n in floats
    return ordered[k - 1]


def _mean_and_mcse(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, float("nan")
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def _probabilities(name: str, probs: Sequence[float], length: int | None) -> list[float]:
    probs = list(probs)
    if length is not None and len(probs) != length:
        raise ValueError(f"{name} needs {length} values, got {len(probs)}")
    if not probs:
        raise ValueError(f"{name} must not be empty")
    for x in probs:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise ValueError(f"{name} must be finite numbers >= 0, got {x!r}")
    if sum(probs) <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return probs


def simulate(
    method: str = "minimization",
    p: float = DEFAULT_P,
    block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
    patients: int = DEFAULT_PATIENTS,
    reps: int = DEFAULT_REPS,
    seed: int = DEFAULT_SEED,
    subtype_probs: Sequence[float] = DEFAULT_SUBTYPE_PROBS,
    lesion_probs: Sequence[float] = DEFAULT_LESION_PROBS,
    site_weights: Sequence[float] = DEFAULT_SITE_WEIGHTS,
) -> dict:
    """Simulate ``reps`` trials of ``patients`` patients and summarise balance and predictability.

    Returns the contract's JSON object. ``p`` is reported (and used) only for minimization, else
    None; ``block_sizes`` is used only for blocks. Probabilities are relative weights (normalised).
    One ``random.Random(seed)`` stream drives everything, so the result is reproducible.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    for name, n in (("patients", patients), ("reps", reps)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    if method == "minimization":
        validate_p(p)
    else:
        p = None
    if method == "blocks":
        block_sizes = validate_block_sizes(block_sizes)
    subtype_cum = list(accumulate(_probabilities("subtype_probs", subtype_probs, len(SUBTYPES))))
    lesion_cum = list(accumulate(_probabilities("lesion_probs", lesion_probs, len(LESION_LEVELS))))
    site_cum = list(accumulate(_probabilities("site_weights", site_weights, None)))
    n_sites = len(site_cum)
    site_levels = tuple(f"site{i + 1:02d}" for i in range(n_sites))
    cells = tuple(stratum_key(s, n) for s in SUBTYPES for n in LESION_LEVELS)
    cell_of = {(s, n): stratum_key(s, n) for s in SUBTYPES for n in LESION_LEVELS}

    rng = random.Random(seed)
    per_rep: dict[str, list[float]] = {k: [] for k in (*MEAN_KEYS, *P95_KEYS)}

    for _ in range(reps):
        # Patients of this trial, drawn independently.
        sites = rng.choices(site_levels, cum_weights=site_cum, k=patients)
        subtypes = rng.choices(SUBTYPES, cum_weights=subtype_cum, k=patients)
        lesions = rng.choices(LESION_LEVELS, cum_weights=lesion_cum, k=patients)

        # counts[factor][level] = {"A": n, "B": n}: the structure minimize() reads, updated in place.
        counts = {
            "site": {lv: {ARM_A: 0, ARM_B: 0} for lv in site_levels},
            "subtype": {lv: {ARM_A: 0, ARM_B: 0} for lv in SUBTYPES},
            "lesions": {lv: {ARM_A: 0, ARM_B: 0} for lv in LESION_LEVELS},
        }
        cell_counts = {c: {ARM_A: 0, ARM_B: 0} for c in cells}
        site_counts = counts["site"]
        subtype_counts = counts["subtype"]
        lesion_counts = counts["lesions"]

        if method == "blocks":
            # The list is fixed before the first patient; its length per stratum only needs to cover
            # this trial's patients (unused slots never influence an allocation).
            needed = dict.fromkeys(cells, 0)
            for st, ls in zip(subtypes, lesions, strict=True):
                needed[cell_of[st, ls]] += 1
            block_list = {
                c: [arm for block in generate_stratum_blocks(block_sizes, rng, n=needed[c]) for arm in block]
                for c in cells
            }
            next_slot = dict.fromkeys(cells, 0)

        guess_design = 0.0
        guess_site = 0.0
        for site, st, ls in zip(sites, subtypes, lesions, strict=True):
            cell = cell_counts[cell_of[st, ls]]
            sc = site_counts[site]
            if method == "minimization":
                decision = minimize(counts, {"site": site, "subtype": st, "lesions": ls}, None, p, rng)
                arm = decision.arm
                if decision.preferred is None:
                    guess_design += 0.5
                elif decision.preferred == arm:
                    guess_design += 1.0
            else:
                if method == "blocks":
                    key = cell_of[st, ls]
                    arm = block_list[key][next_slot[key]]
                    next_slot[key] += 1
                else:
                    arm = simple(rng)
                guess_design += _guess_score(cell, arm)
            guess_site += _guess_score(sc, arm)
            sc[arm] += 1
            subtype_counts[st][arm] += 1
            lesion_counts[ls][arm] += 1
            cell[arm] += 1

        total_a = sum(c[ARM_A] for c in cell_counts.values())
        site_max = max(abs(c[ARM_A] - c[ARM_B]) for c in site_counts.values())
        sl_max = max(abs(c[ARM_A] - c[ARM_B]) for c in (*subtype_counts.values(), *lesion_counts.values()))
        per_rep["abs_diff"].append(abs(2 * total_a - patients))
        per_rep["max_site"].append(site_max)
        per_rep["max_subtype_lesion"].append(sl_max)
        per_rep["max_marginal"].append(max(site_max, sl_max))
        per_rep["max_cell"].append(max(abs(c[ARM_A] - c[ARM_B]) for c in cell_counts.values()))
        per_rep["guess_design"].append(guess_design / patients)
        per_rep["guess_site"].append(guess_site / patients)

    result: dict = {}
    mcse: dict[str, float] = {}
    for key in MEAN_KEYS:
        mean, se = _mean_and_mcse(per_rep[key])
        out_key = key if key.startswith("guess") else f"{key}_mean"
        result[out_key] = round(mean, 4)
        mcse[out_key] = round(se, 4)
    for key in P95_KEYS:
        result[f"{key}_p95"] = int(percentile_inverted_cdf(per_rep[key]))
    ordered = {k: result[k] for k in RESULT_KEYS}
    ordered.update(reps=reps, patients=patients, seed=seed, method=method, p=p, mcse=mcse)
    return ordered


def _guess_score(cell: dict, arm: str) -> float:
    """Score of guessing the arm with fewer patients so far in ``cell``; a tie scores 0.5."""
    a, b = cell[ARM_A], cell[ARM_B]
    if a == b:
        return 0.5
    guess = ARM_A if a < b else ARM_B
    return 1.0 if guess == arm else 0.0


def format_table(result: dict) -> str:
    """A short human-readable table of one :func:`simulate` result."""
    method = result["method"]
    if result.get("p") is not None:
        method = f"{method} p={result['p']}"
    m = result["mcse"]
    rows = [
        ("total |A-B|", "abs_diff_mean", "abs_diff_p95"),
        ("max marginal", "max_marginal_mean", "max_marginal_p95"),
        ("max subtype/lesion", None, "max_subtype_lesion_p95"),
        ("max site", "max_site_mean", "max_site_p95"),
        ("max subtype x lesion cell", "max_cell_mean", "max_cell_p95"),
        ("guess (design)", "guess_design", None),
        ("guess (site)", "guess_site", None),
    ]
    head = (
        f"{method}: {result['reps']} reps x {result['patients']} patients, seed {result['seed']}\n"
        f"{'measure':<26}{'mean':>8}{'mcse':>8}{'p95':>6}"
    )
    lines = [head, "-" * 48]
    for name, mean_key, p95_key in rows:
        digits = 3 if mean_key and mean_key.startswith("guess") else 2
        mean = f"{result[mean_key]:.{digits}f}" if mean_key else ""
        se = f"{m[mean_key]:.{digits + 1}f}" if mean_key else ""
        p95 = str(result[p95_key]) if p95_key else ""
        lines.append(f"{name:<26}{mean:>8}{se:>8}{p95:>6}")
    return "\n".join(lines)
