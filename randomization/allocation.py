"""Allocation methods of OLIGAMI: the pure science of randomization (protocol/RANDOMIZATION.md).

Counts and an injected random source in, arm out. No Django, no project imports, standard library
only, and never the module-level ``random`` functions: every function that draws takes a
``random.Random``-like object (``random.Random(seed)`` in simulations and list generation,
``secrets.SystemRandom()`` for live minimization), so that a decision can be replayed and a list
regenerated from its recorded seed.

Arms: "A" = systemic therapy alone, "B" = systemic therapy + metastasis-directed therapy; 1:1.

Three methods:

* Minimization (default): Pocock-Simon with the range of marginal imbalance (|A-B|) and a random
  element ``p``. Split into a pure decision (:func:`decide_minimization`, which takes the uniform draw
  ``u``) and a thin drawing wrapper (:func:`minimize`) so the live service can store the counts and
  ``u`` and a verifier can replay the decision exactly.
* Stratified permuted blocks: :func:`generate_block_list` before go-live, fingerprinted by
  :func:`block_list_sha256`.
* Simple randomization (:func:`simple`): a baseline for the simulation only.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# Bump the version of a method whenever a change could alter a decision or a list for the same inputs
# (counts, u, seed); it is stored with every allocation so an old allocation is replayed with the
# rules that made it.
MINIMIZATION_VERSION = "minimization-pocock-simon-range/1"
BLOCKS_VERSION = "stratified-permuted-blocks/1"
SIMPLE_VERSION = "simple/1"
ALGORITHM_VERSIONS = {
    "minimization": MINIMIZATION_VERSION,
    "blocks": BLOCKS_VERSION,
    "simple": SIMPLE_VERSION,
}
ALGORITHM_VERSION = "oligami-allocation/1"  # the module as a whole

ARM_A = "A"
ARM_B = "B"
ARMS = (ARM_A, ARM_B)

# Default levels of the allocation factors (RANDOMIZATION.md "Methods"). Site levels are the sites.
SUBTYPES = ("luminal", "her2", "tnbc")
LESION_LEVELS = ("1", "2-3")  # remaining oligometastases
DEFAULT_BLOCK_SIZES = (4, 6)
DEFAULT_P = 0.8
P_WARNING_THRESHOLD = 0.95
STRATUM_SEPARATOR = "|"


class RandomSource(Protocol):
    """What the functions need from a random source; ``random.Random`` and ``SystemRandom`` fit."""

    def random(self) -> float: ...

    def choice(self, seq): ...

    def shuffle(self, x) -> None: ...


# ---------------------------------------------------------------------------------------------------
# Minimization
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinimizationDecision:
    """One minimization decision, with everything needed to replay it from the stored counts.

    ``imbalance`` is the weighted total range of marginal imbalance that each arm *would* produce;
    ``preferred`` is the arm with the lower score, None on a tie (then the draw is a 50:50 coin).
    """

    arm: str
    imbalance: dict
    preferred: str | None
    p: float
    u: float

    def to_dict(self) -> dict:
        """JSON-friendly form for the allocation record."""
        return {
            "arm": self.arm,
            "imbalance": dict(self.imbalance),
            "preferred": self.preferred,
            "p": self.p,
            "u": self.u,
        }


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_p(p) -> list[str]:
    """Check the configured probability of choosing the imbalance-minimizing arm.

    Returns a list of warnings (empty when none) and raises ``ValueError`` when ``p`` is refused.

    Refused:
    * ``p >= 1``: a deterministic minimization lets anyone who knows the counts predict every
      allocation (the protocol refuses p = 1).
    * ``p <= 0.5``: at 0.5 the "minimization" is simple randomization in disguise (the counts play no
      part), and below 0.5 it would *favour* imbalance. Neither is what a statistician configuring
      minimization can mean, so refusing them catches a typo (0.08 for 0.8) before go-live.
    Warned: ``p >= 0.95``, nearly deterministic, so allocations become predictable (see guess_design
    and guess_site in the simulation).
    """
    if not _is_real(p):
        raise ValueError(f"p must be a finite number, got {p!r}")
    if p >= 1:
        raise ValueError(f"p = {p} is deterministic minimization and is refused; use p < 1 (e.g. 0.8)")
    if p <= 0.5:
        raise ValueError(
            f"p = {p} is refused: p = 0.5 ignores the counts (simple randomization) and p < 0.5 "
            "favours imbalance; use 0.5 < p < 1 (e.g. 0.8)"
        )
    if p >= P_WARNING_THRESHOLD:
        return [
            f"p = {p} is at or above {P_WARNING_THRESHOLD}: allocations are nearly deterministic and "
            "predictable by anyone who can estimate the counts"
        ]
    return []


def validate_weights(weights: Mapping[str, float], factors: Iterable[str] | None = None) -> None:
    """Factor weights must be finite, non-negative, with at least one positive.

    If ``factors`` is given, the weights must name exactly those factors.
    """
    if not weights:
        raise ValueError("at least one minimization factor is required")
    for factor, w in weights.items():
        if not _is_real(w) or w < 0:
            raise ValueError(f"weight of factor {factor!r} must be a finite number >= 0, got {w!r}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one factor weight must be positive")
    if factors is not None and set(factors) != set(weights):
        raise ValueError(f"weights name factors {sorted(weights)}, expected {sorted(set(factors))}")


def imbalance_scores(
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
    levels: Mapping[str, str],
    weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Weighted total range of marginal imbalance for each hypothetical assignment.

    For arm X: sum over factors f of ``weights[f] * |A - B|`` counted within the patient's level of f
    after adding the patient to X. ``counts[f][level]`` is ``{"A": n, "B": n}`` before this patient;
    a missing level or arm counts 0, so only the patient's levels need to be supplied. ``weights``
    None means equal weights of 1.
    """
    score_a = 0
    score_b = 0
    for factor, level in levels.items():
        w = 1 if weights is None else weights[factor]
        cell = counts.get(factor, {}).get(level, {})
        d = cell.get(ARM_A, 0) - cell.get(ARM_B, 0)
        score_a += w * abs(d + 1)
        score_b += w * abs(d - 1)
    return {ARM_A: score_a, ARM_B: score_b}


def decide_minimization(
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
    levels: Mapping[str, str],
    weights: Mapping[str, float] | None,
    p: float,
    u: float,
) -> MinimizationDecision:
    """The pure, replayable minimization decision.

    ``u`` is one uniform draw in [0, 1). On a tie: A if ``u < 0.5`` else B. Otherwise the preferred
    (lower-imbalance) arm if ``u < p`` else the other arm. The comparisons are strict, so u == p
    gives the other arm and u == 0.5 on a tie gives B.

    This function accepts 0.5 < p <= 1: p = 1 is allowed here so that deterministic behaviour can be
    studied and tested; the configuration (:func:`validate_p`, :func:`minimize`) refuses it.
    """
    if not levels:
        raise ValueError("the patient has no factor levels")
    if weights is not None:
        missing = set(levels) - set(weights)
        if missing:
            raise ValueError(f"no weight for factor(s) {sorted(missing)}")
    if not _is_real(p) or not 0.5 < p <= 1:
        raise ValueError(f"p must satisfy 0.5 < p <= 1, got {p!r}")
    if not _is_real(u) or not 0 <= u < 1:
        raise ValueError(f"u must be a uniform draw in [0, 1), got {u!r}")
    scores = imbalance_scores(counts, levels, weights)
    if scores[ARM_A] == scores[ARM_B]:
        preferred = None
        arm = ARM_A if u < 0.5 else ARM_B
    else:
        preferred = ARM_A if scores[ARM_A] < scores[ARM_B] else ARM_B
        other = ARM_B if preferred == ARM_A else ARM_A
        arm = preferred if u < p else other
    return MinimizationDecision(arm=arm, imbalance=scores, preferred=preferred, p=p, u=u)


def minimize(
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
    levels: Mapping[str, str],
    weights: Mapping[str, float] | None,
    p: float,
    rng: RandomSource,
) -> MinimizationDecision:
    """Validate the configuration, draw ``u = rng.random()`` exactly once, and decide.

    The live service stores the counts it passed, ``decision.u`` and ``decision.arm``; a verifier
    calls :func:`decide_minimization` with the same counts and u and must get the same arm.
    """
    validate_p(p)
    if weights is not None:
        validate_weights(weights)
    u = rng.random()
    return decide_minimization(counts, levels, weights, p, u)


# ---------------------------------------------------------------------------------------------------
# Stratified permuted blocks
# ---------------------------------------------------------------------------------------------------


def stratum_key(subtype: str, lesions: str) -> str:
    """The key of a subtype x remaining-lesions stratum, e.g. ``"luminal|2-3"``."""
    return f"{subtype}{STRATUM_SEPARATOR}{lesions}"


DEFAULT_STRATA = tuple(stratum_key(s, n) for s in SUBTYPES for n in LESION_LEVELS)


def validate_block_sizes(block_sizes: Iterable[int]) -> tuple[int, ...]:
    """Block sizes must be positive even integers; returns them as a sorted tuple without repeats.

    The set, not the sequence, is the configuration: each block's size is drawn uniformly from the
    distinct sizes, and sorting makes the list independent of the order they were typed in.
    """
    sizes = list(block_sizes)
    if not sizes:
        raise ValueError("at least one block size is required")
    for s in sizes:
        if not isinstance(s, int) or isinstance(s, bool) or s <= 0 or s % 2:
            raise ValueError(f"block sizes must be positive even integers (1:1 in every block), got {s!r}")
    return tuple(sorted(set(sizes)))


def generate_stratum_blocks(
    block_sizes: Sequence[int],
    rng: RandomSource,
    *,
    n: int | None = None,
    blocks: int | None = None,
) -> list[list[str]]:
    """Consecutive permuted blocks for one stratum, as a list of blocks (each a list of arms).

    Each block: size = ``rng.choice(sorted distinct sizes)``, then ``size/2`` A and ``size/2`` B
    shuffled by ``rng.shuffle``. Give exactly one of ``blocks`` (that many blocks) or ``n`` (whole
    blocks until at least n slots; the list ends at a block boundary, never truncated).
    """
    sizes = validate_block_sizes(block_sizes)
    if (n is None) == (blocks is None):
        raise ValueError("give exactly one of n (slots) or blocks (number of blocks)")
    target = n if n is not None else blocks
    if not isinstance(target, int) or isinstance(target, bool) or target < 0:
        raise ValueError(f"the number of slots or blocks must be an integer >= 0, got {target!r}")
    out: list[list[str]] = []
    slots = 0
    while (slots < n) if n is not None else (len(out) < blocks):
        size = rng.choice(sizes)
        block = [ARM_A] * (size // 2) + [ARM_B] * (size // 2)
        rng.shuffle(block)
        out.append(block)
        slots += size
    return out


def generate_block_list(
    strata: Iterable[str] = DEFAULT_STRATA,
    block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
    *,
    rng: RandomSource,
    n_per_stratum: int | None = None,
    blocks_per_stratum: int | None = None,
) -> dict[str, list[list[str]]]:
    """The allocation list for stratified permuted blocks, generated before go-live.

    Returns ``{stratum: [block, block, ...]}`` with each block a list of "A"/"B"; a stratum's
    allocation sequence is its blocks concatenated (see :func:`iter_slots`). Strata are generated in
    the order given (with ``rng`` a ``random.Random(recorded_seed)`` the list is reproducible for the
    same strata order, sizes and length). Give exactly one of ``n_per_stratum`` (at least that many
    slots per stratum, whole blocks) or ``blocks_per_stratum``.
    """
    keys = list(strata)
    if not keys:
        raise ValueError("at least one stratum is required")
    if len(set(keys)) != len(keys):
        raise ValueError("strata must be distinct")
    for k in keys:
        if not isinstance(k, str) or not k:
            raise ValueError(f"stratum keys must be non-empty strings, got {k!r}")
    sizes = validate_block_sizes(block_sizes)
    if (n_per_stratum is None) == (blocks_per_stratum is None):
        raise ValueError("give exactly one of n_per_stratum or blocks_per_stratum")
    return {k: generate_stratum_blocks(sizes, rng, n=n_per_stratum, blocks=blocks_per_stratum) for k in keys}


@dataclass(frozen=True)
class BlockSlot:
    """One slot of the list: 1-based position within the stratum and 1-based block number."""

    stratum: str
    position: int
    block: int
    block_size: int
    arm: str


def iter_slots(block_list: Mapping[str, Sequence[Sequence[str]]]) -> Iterator[BlockSlot]:
    """Flatten a block list into slots, stratum by stratum in the list's order, for storage."""
    for stratum, blocks in block_list.items():
        position = 0
        for b, block in enumerate(blocks, start=1):
            for arm in block:
                position += 1
                yield BlockSlot(stratum, position, b, len(block), arm)


def canonical_block_list_json(block_list: Mapping[str, Sequence[Sequence[str]]]) -> bytes:
    """The canonical serialization that :func:`block_list_sha256` hashes.

    JSON of ``{stratum: [[arm, ...], ...]}`` (blocks as nested arrays, in allocation order) with
    object keys sorted, no whitespace (separators "," and ":"), ASCII-escaped, encoded as UTF-8.
    In Python: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``.
    Example: ``{"her2|1":[["A","B","B","A"]],"luminal|1":[["B","A"]]}``.
    """
    obj = {str(k): [[str(a) for a in block] for block in blocks] for k, blocks in block_list.items()}
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")


def block_list_sha256(block_list: Mapping[str, Sequence[Sequence[str]]]) -> str:
    """Lower-case hex SHA-256 of :func:`canonical_block_list_json`; recorded before go-live.

    An auditor recomputes it from the stored slots: group by stratum, order by position, split into
    blocks by block number, serialize as documented, hash (e.g. ``sha256sum``).
    """
    return hashlib.sha256(canonical_block_list_json(block_list)).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Simple randomization
# ---------------------------------------------------------------------------------------------------


def simple(rng: RandomSource) -> str:
    """A fair coin: A if ``rng.random() < 0.5`` else B (a baseline for the simulation)."""
    return ARM_A if rng.random() < 0.5 else ARM_B
