"""The tamper-evident allocation log: what an allocation's hash covers and how it is computed.

hash = SHA-256 over the canonical JSON (sorted keys, no whitespace, ASCII) of the allocation's own
recorded content, which includes the previous allocation's hash. Only the row's own columns go in
(ids, not names that can be renamed later), so a rename elsewhere never breaks the chain.
Used by services.randomize (to write) and the verify_allocations command (to replay).
"""

import datetime as dt
import hashlib
import json

LOG_VERSION = "oligami-allocation-log/1"
GENESIS_HASH = "0" * 64


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def content(allocation) -> dict:
    return {
        "log_version": LOG_VERSION,
        "sequence": allocation.sequence,
        "config": allocation.config_id,
        "patient": allocation.patient_id,
        "arm": allocation.arm,
        "method": allocation.method,
        "algorithm_version": allocation.algorithm_version,
        "factors": allocation.factors,
        "counts_before": allocation.counts_before,
        "weights": allocation.weights,
        "imbalance": allocation.imbalance,
        "preferred": allocation.preferred,
        "p": allocation.p,
        "u": allocation.u,
        "stratum": allocation.stratum,
        "block_entry": allocation.block_entry_id,
        "allocated_at": _when(allocation.allocated_at),
        "user": allocation.user_id,
        # The signature as copied onto the allocation: frozen inputs of the chain. The allocation now also points
        # at its Signature row (issue 14), which the pages show; the key is not hashed, so every allocation
        # written before it verifies unchanged.
        "signed_name": allocation.signed_name,
        "signed_at": _when(allocation.signed_at),
        "signature_meaning": allocation.signature_meaning,
        "prev_hash": allocation.prev_hash,
    }


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def compute_hash(allocation) -> str:
    return hashlib.sha256(canonical_json(content(allocation))).hexdigest()
