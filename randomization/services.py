"""Every write of the randomization app: the set-up (until frozen), the allocation list, and randomize.

The pure decisions come from randomization/allocation.py; this module locks, counts, records, chains
and notifies. See DESIGN.md "Randomization" and protocol/RANDOMIZATION.md.
"""

import logging
import random
import secrets
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from oligami_site import access, auditing, mail, numbering, sites
from oligami_site.access import Action, TrialRole
from oligami_site.models import Membership, Signature, User
from oligami_site.site_status import SiteAction
from screening import stages
from screening.models import Patient
from screening.services import require_step

from . import allocation, ledger
from . import factors as fx
from .exceptions import (
    BlockListExhausted,
    ConfigFrozen,
    ConfigInvalid,
    InvalidFactors,
    NotConfigured,
    NotReadyToRandomize,
    RandomizationError,
)
from .models import Allocation, AllocationTally, BlockListEntry, ConfigChangeAttempt, Method, RandomizationConfig

logger = logging.getLogger(__name__)

ALLOCATION_SERIES = "randomization.allocation"  # the numbering series of Allocation.sequence (oligami_site.numbering)
# The hash chain's frozen `signature_meaning` input of every allocation (not shown: the signature row is).
DEFAULT_SIGNATURE_MEANING = "I confirm the secondary registration and the randomization of this patient."
# Fields of the configuration a statistician sets; the rest is recorded by the services.
CONFIG_FIELDS = ("method", "factors", "weights", "p", "block_sizes", "slots_per_stratum")
# A change to one of these invalidates a generated allocation list (its strata or blocks).
LIST_FIELDS = ("method", "factors", "block_sizes", "slots_per_stratum")


# ---------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------


def validate_config(*, method, factors: list, weights: dict | None, p, block_sizes, slots_per_stratum=340):
    """Normalised configuration values and warnings; ConfigInvalid (with the field) when refused."""
    if method not in Method.values:
        raise ConfigInvalid(_("Unknown method %(method)s.") % {"method": method}, field="method")
    factor_keys = list(factors or [])
    unknown = [f for f in factor_keys if f not in fx.FACTORS]
    if unknown:
        raise ConfigInvalid(_("Unknown factor(s): %(names)s.") % {"names": ", ".join(map(str, unknown))},
                            field="factors")
    factor_keys = fx.ordered(factor_keys)
    if not factor_keys:
        raise ConfigInvalid(_("Choose at least one factor."), field="factors")
    warnings = []
    try:
        p_warnings = allocation.validate_p(p)
    except ValueError:
        raise ConfigInvalid(
            _("p = %(p)s is refused: p must be above 0.5 (0.5 ignores the counts) and below 1 "
              "(1 is deterministic and predictable); the default is 0.8.") % {"p": p},
            field="p",
        )
    weights = dict(weights or {})
    if method == Method.MINIMIZATION:
        # A factor without a weight gets the default weight 1; weights of unchosen factors are dropped.
        weights = {f: weights.get(f, 1) for f in factor_keys}
        try:
            allocation.validate_weights(weights, factor_keys)
        except ValueError:
            raise ConfigInvalid(_("Factor weights must be numbers of 0 or more, at least one above 0."),
                                field="weights")
        if p_warnings:
            warnings.append(
                _("p = %(p)s is at or above 0.95: allocations are nearly deterministic and can be predicted by "
                  "anyone who can estimate the counts. Consider 0.8.") % {"p": p}
            )
    else:
        weights = {}
    try:
        sizes = list(allocation.validate_block_sizes(block_sizes))
    except (ValueError, TypeError):
        raise ConfigInvalid(_("Block sizes must be positive even whole numbers, e.g. 4, 6."), field="block_sizes")
    if method == Method.BLOCKS:
        if fx.SITE in factor_keys:
            raise ConfigInvalid(_("Site cannot be a stratum of the permuted blocks; choose subtype and lesions."),
                                field="factors")
        if not isinstance(slots_per_stratum, int) or slots_per_stratum < 1:
            raise ConfigInvalid(_("The list needs at least one slot per stratum."), field="slots_per_stratum")
    return {
        "method": method, "factors": factor_keys, "weights": weights, "p": float(p), "block_sizes": sizes,
        "slots_per_stratum": slots_per_stratum,
    }, warnings


def _record_refusal(*, config, user, action: str, attempted: dict, refusal: str) -> ConfigChangeAttempt:
    attempt = ConfigChangeAttempt(config=config, user=user, action=action, attempted=attempted, refusal=refusal)
    # The refusal itself is in the row; the reason says which action was refused.
    auditing.save(attempt, user=user, reason=f"Refused set-up change ({action})")
    logger.warning("Refused randomization set-up change %s by %s: %s", action, user, refusal)
    return attempt


def frozen_message():
    return _("The randomization set-up is frozen: the first patient has been randomized, so the method and its "
             "parameters can no longer change. This attempt has been recorded.")


def has_allocations(config=None) -> bool:
    qs = Allocation.objects.all() if config is None else Allocation.objects.filter(config=config)
    return qs.exists()


def _jsonable(values: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else str(v))
            for k, v in values.items()}


def refuse_frozen_change(*, config, user, action: str, attempted: dict) -> ConfigChangeAttempt:
    """Record a change attempted on a frozen set-up (e.g. a form posted in the admin) and say why."""
    return _record_refusal(config=config, user=user, action=action, attempted=_jsonable(attempted),
                           refusal=str(frozen_message()))


def create_config(*, user, reason: str = "Randomization set-up created", **values):
    """A new active configuration (the previous one, if any and unused, becomes inactive).

    Returns (config, warnings). Refused, and recorded, once any patient has been randomized.
    """
    clean, warnings = validate_config(**{k: values[k] for k in CONFIG_FIELDS if k in values})
    refused = False
    with transaction.atomic():
        previous = RandomizationConfig.objects.select_for_update().filter(active=True).first()
        if has_allocations():
            _record_refusal(config=previous, user=user, action="create", attempted=_jsonable(clean),
                            refusal=str(frozen_message()))
            refused = True
        else:
            if previous is not None:
                previous.active = False
                auditing.save(previous, user=user, reason="Replaced by a new configuration", update_fields=["active"])
            config = RandomizationConfig(**clean)
            auditing.save(config, user=user, reason=reason)
    if refused:  # outside the transaction: the recorded attempt stays
        raise ConfigFrozen(frozen_message(), code="frozen")
    return config, warnings


def update_config(*, config, user, reason: str = "Randomization set-up changed", **values):
    """Change the set-up before the first allocation. Returns (config, warnings, list_discarded).

    After the first allocation every change is refused with ConfigFrozen and the attempt is recorded
    (committed even though the change is refused). A change of the method, factors, block sizes or list
    length discards a generated allocation list (it no longer fits); it must be generated again.
    """
    refused = False
    list_discarded = False
    with transaction.atomic():
        locked = RandomizationConfig.objects.select_for_update().get(pk=config.pk)
        if locked.is_frozen or has_allocations(locked):
            _record_refusal(config=locked, user=user, action="change", attempted=_jsonable(values),
                            refusal=str(frozen_message()))
            refused = True
        else:
            merged = {k: values.get(k, getattr(locked, k)) for k in CONFIG_FIELDS}
            clean, warnings = validate_config(**merged)
            changed = [k for k in CONFIG_FIELDS if clean[k] != getattr(locked, k)]
            if locked.block_list_size and any(k in LIST_FIELDS for k in changed):
                _discard_list(locked, user)
                list_discarded = True
            for k in CONFIG_FIELDS:
                setattr(locked, k, clean[k])
            auditing.save(locked, user=user, reason=reason)
    if refused:
        raise ConfigFrozen(frozen_message(), code="frozen")
    for k in CONFIG_FIELDS:
        setattr(config, k, getattr(locked, k))
    return locked, warnings, list_discarded


def _discard_list(config, user):
    for entry in BlockListEntry.objects.filter(config=config):
        auditing.mark(entry, user=user, reason="Allocation list discarded before go-live")
        entry.delete()
    config.block_list_seed = ""
    config.block_list_sha256 = ""
    config.block_list_size = 0
    config.block_list_generated_at = None
    config.block_list_generated_by = None


def generate_block_list(*, config, user, seed: int | None = None) -> RandomizationConfig:
    """Generate and store the stratified permuted-block list before go-live (statistician action).

    The seed comes from `secrets` unless given (tests), is recorded on the configuration and never
    shown; the list's SHA-256 (allocation.block_list_sha256) is recorded and shown to the statistician
    so that an auditor can recompute it from the stored slots later. A list already generated is
    replaced. Refused (and recorded) once frozen.
    """
    refused = False
    with transaction.atomic():
        locked = RandomizationConfig.objects.select_for_update().get(pk=config.pk)
        if locked.is_frozen or has_allocations(locked):
            _record_refusal(config=locked, user=user, action="generate_block_list", attempted={},
                            refusal=str(frozen_message()))
            refused = True
        else:
            if locked.method != Method.BLOCKS:
                raise ConfigInvalid(_("The allocation list is for the permuted-block method only."), field="method")
            if locked.block_list_size:
                _discard_list(locked, user)
            seed = secrets.randbits(63) if seed is None else int(seed)
            # A seeded Mersenne Twister makes the list reproducible from the recorded seed; the seed
            # itself is unpredictable (secrets) and secret.
            rng = random.Random(seed)  # noqa: S311
            block_list = allocation.generate_block_list(
                fx.strata(locked.factors), locked.block_sizes, rng=rng, n_per_stratum=locked.slots_per_stratum)
            size = 0
            for slot in allocation.iter_slots(block_list):
                entry = BlockListEntry(config=locked, stratum=slot.stratum, position=slot.position, block=slot.block,
                                       block_size=slot.block_size, arm=slot.arm)
                auditing.save(entry, user=user, reason="Allocation list generated")
                size += 1
            locked.block_list_seed = str(seed)
            locked.block_list_sha256 = allocation.block_list_sha256(block_list)
            locked.block_list_size = size
            locked.block_list_generated_at = timezone.now()
            locked.block_list_generated_by = user
            auditing.save(locked, user=user, reason="Allocation list generated")
    if refused:
        raise ConfigFrozen(frozen_message(), code="frozen")
    return locked


def stored_block_list(config) -> dict[str, list[list[str]]]:
    """The stored list in allocation.block_list_sha256's shape (for verification; never displayed)."""
    out: dict[str, list[list[str]]] = {}
    rows = BlockListEntry.objects.filter(config=config).order_by("stratum", "position")
    for stratum, block, arm in rows.values_list("stratum", "block", "arm"):
        blocks = out.setdefault(stratum, [])
        while len(blocks) < block:
            blocks.append([])
        blocks[block - 1].append(arm)
    return out


# ---------------------------------------------------------------------------------------------------
# Randomize
# ---------------------------------------------------------------------------------------------------


def _normalise_level(key, value):
    if key == fx.LESIONS and isinstance(value, int) and not isinstance(value, bool):
        return "1" if value == 1 else "2-3" if value in (2, 3) else str(value)
    if key == fx.BONE_ONLY and isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _levels(config, patient, given: dict) -> dict:
    unknown = set(given) - set(fx.FACTORS)
    if unknown:
        raise InvalidFactors(_("Unknown allocation factor(s): %(names)s.") % {"names": ", ".join(sorted(unknown))})
    levels = {}
    for key in fx.ordered(config.factors):
        if key == fx.SITE:
            # The site is the patient's own; a caller's value can only confirm it.
            if given.get(key) not in (None, patient.site.code):
                raise InvalidFactors(_("The site factor does not match the patient's site."))
            levels[key] = patient.site.code
            continue
        value = _normalise_level(key, given.get(key))
        if value not in fx.level_values(key):
            raise InvalidFactors(
                _("The allocation factor %(factor)s is missing or not one of its levels (%(value)s).")
                % {"factor": fx.FACTORS[key].label, "value": value}
            )
        levels[key] = value
    return levels


def tally_level(key: str, level, site_id: int) -> str:
    """A factor level as the tally rows key it: the site by her id (a renamed site keeps her count)."""
    return str(site_id) if key == fx.SITE else str(level)


def _counts_before(config, levels: dict, site_id: int) -> tuple[dict, dict]:
    """{factor: {level: {"A": n, "B": n}}} for the patient's levels, from the tally rows in ONE query, and
    the ids of the rows read ({(factor, arm): id}) for `_count_allocation`. Called under the config lock."""
    counts = {key: {level: dict.fromkeys(allocation.ARMS, 0)} for key, level in levels.items()}
    row_ids = {}
    if levels:
        wanted = Q()
        for key, level in levels.items():
            wanted |= Q(factor=key, level=tally_level(key, level, site_id))
        for pk, factor, arm, n in (AllocationTally.objects.filter(wanted, config=config)
                                   .values_list("pk", "factor", "arm", "count")):
            counts[factor][levels[factor]][arm] = n
            row_ids[(factor, arm)] = pk
    return counts, row_ids


def _count_allocation(config, levels: dict, site_id: int, arm: str, row_ids: dict) -> None:
    """Add the new allocation to the tally rows of its levels (in its transaction, under the config lock,
    so no other allocation can write them meanwhile): one UPDATE, plus one INSERT for first-seen levels."""
    existing = [row_ids[(key, arm)] for key in levels if (key, arm) in row_ids]
    if existing:
        AllocationTally.objects.filter(pk__in=existing).update(count=F("count") + 1)  # audit-ok: derived counts
    new = [AllocationTally(config=config, factor=key, level=tally_level(key, level, site_id), arm=arm, count=1)
           for key, level in levels.items() if (key, arm) not in row_ids]
    if new:
        AllocationTally.objects.bulk_create(new)  # audit-ok: derived counts (see AllocationTally)


def recount_tallies() -> Counter:
    """(config id, factor, level, arm) -> allocations, recounted from the allocations themselves."""
    counts: Counter = Counter()
    rows = Allocation.objects.values_list("config_id", "factors", "patient__site_id", "arm").order_by("sequence")
    for config_id, factors, site_id, arm in rows.iterator(chunk_size=2000):
        for key, level in (factors or {}).items():
            counts[(config_id, key, tally_level(key, level, site_id), arm)] += 1
    return counts


def stored_tallies() -> Counter:
    return Counter({(config_id, factor, level, arm): n for config_id, factor, level, arm, n in
                    AllocationTally.objects.values_list("config_id", "factor", "level", "arm", "count") if n})


@transaction.atomic
def rebuild_tallies() -> int:
    """Replace the tally rows by a recount of the allocations (after allocations were loaded in bulk, as
    bench/generate.py does). Takes the configuration lock first, as randomize does. Returns the rows."""
    lock_configuration()
    AllocationTally.objects.all().delete()  # audit-ok: derived counts, rebuilt from the audited allocations
    rows = [AllocationTally(config_id=config_id, factor=factor, level=level, arm=arm, count=n)
            for (config_id, factor, level, arm), n in recount_tallies().items()]
    AllocationTally.objects.bulk_create(rows, batch_size=1000)  # audit-ok: derived counts
    return len(rows)


def randomize(*, patient, factors: dict, user, signature: Signature | None = None) -> Allocation:
    """Allocate `patient` to arm A or B, once: the one way a patient is randomized.

    Called by the secondary-registration service inside its own transaction, with the factor values it
    computed (site is taken from the patient). Records the factor values, the counts before allocation,
    the imbalance per arm, p, the uniform draw u (minimization) or the list slot (blocks), the arm, the
    algorithm version, the signature and the hash chained to the previous allocation; sets the patient's
    stage to RANDOMIZED; e-mails the site after commit. `signature`: the row the caller wrote with
    oligami_site.signatures in its transaction (the secondary registration's); the allocation points at it.

    A double submit (the patient already has an allocation) returns the first allocation unchanged.
    Refusals raise a RandomizationError; a used-up list (or a missing set-up) also alerts the data
    managers, outside the failed transaction (the alert must go out although everything rolls back). Called
    inside a caller's transaction (secondary registration), the configuration lock is still held when the
    refusal is raised, and SMTP may take seconds: the alert is left on the error and the caller sends it
    with `send_pending_alert` once its transaction has ended (committed or rolled back).
    """
    if not access.can(user, Action.SIGN, patient.site_id):
        raise RandomizationError(_("You may not randomize patients of this site."), code="not_allowed")
    try:
        return _allocate(patient=patient, given=dict(factors or {}), user=user, signature=signature)
    except (BlockListExhausted, NotConfigured) as exc:
        if transaction.get_connection().in_atomic_block:
            exc.pending_alert = patient  # no mail under the caller's trial-wide lock: see send_pending_alert
        else:
            _alert_data_managers(patient=patient, error=exc)
        raise


def send_pending_alert(error: Exception) -> None:
    """Send the data managers' alert that `randomize` left on `error` because a transaction was open; call
    it after that transaction has ended. Sends at most once; does nothing for other errors."""
    patient = getattr(error, "pending_alert", None)
    if patient is None:
        return
    error.pending_alert = None
    _alert_data_managers(patient=patient, error=error)


def lock_configuration():
    """Take lock 1 of the fixed order (the active configuration row) at the start of a caller's transaction.

    The secondary-registration service calls this before it locks the patient row, so that the order
    config -> patient is the same in every transaction that ends in an allocation (no deadlock).
    """
    return RandomizationConfig.objects.select_for_update().filter(active=True).first()


@transaction.atomic
def _allocate(*, patient, given: dict, user, signature: Signature | None) -> Allocation:
    # Lock order, the same for every randomization (a different order in two transactions could deadlock):
    # 1. The active configuration row. Every allocation takes it first, so allocations are serialised
    #    trial-wide: the counts read below, the next sequence number and the previous hash cannot change
    #    until this transaction ends, so no two allocations read the same counts or chain to the same
    #    previous hash, and a second submit for the same patient waits here and then finds the first
    #    allocation. It also makes the config's "frozen" check and the first allocation atomic.
    # 2. The patient row: her stage is read and changed under the lock, so no other service can move
    #    her (e.g. off study) between the check and the allocation.
    # 3. Blocks only: the next unused slot of her stratum (already serialised by 1; locked for clarity).
    # A caller must not lock the patient row before calling randomize (it would invert 1 and 2).
    config = RandomizationConfig.objects.select_for_update().filter(active=True).first()
    if config is None:
        raise NotConfigured(_("Randomization is not set up yet. The data centre has been alerted."),
                            code="not_configured")
    locked = Patient.objects.select_for_update(of=("self",)).select_related("site").get(pk=patient.pk)

    existing = Allocation.objects.filter(patient_id=locked.pk).first()
    if existing is not None:
        patient.stage = locked.stage
        return existing
    sites.require(locked.site, SiteAction.RANDOMIZATION)  # pending and closed sites do not randomize
    # Randomization is the second half of secondary registration (one transaction): a registered patient,
    # whose secondary registration the caller has just written (screening.stages.Step.RANDOMIZE).
    require_step(locked, stages.Step.RANDOMIZE, out_of_order=NotReadyToRandomize)
    levels = _levels(config, locked, given)
    counts, tally_rows = _counts_before(config, levels, locked.site_id)
    last = Allocation.objects.order_by("-sequence").values("sequence", "hash").first()

    record = Allocation(
        config=config, patient=locked, method=config.method,
        algorithm_version=allocation.ALGORITHM_VERSIONS[config.method], factors=levels, counts_before=counts,
        prev_hash=last["hash"] if last else ledger.GENESIS_HASH, user=user, signature=signature,
        # The hash chain's frozen signature inputs (models.Allocation): the same values as ever.
        signed_name=user.printed_name, signature_meaning=DEFAULT_SIGNATURE_MEANING,
    )
    if config.method == Method.MINIMIZATION:
        # Live draws come from the operating system's CSPRNG; u is recorded so the decision replays.
        decision = allocation.minimize(counts, levels, config.weights, config.p, secrets.SystemRandom())
        record.arm = decision.arm
        record.weights = dict(config.weights)
        record.imbalance = dict(decision.imbalance)
        record.preferred = decision.preferred or ""
        record.p = decision.p
        record.u = decision.u
    else:
        if not config.block_list_size:
            raise NotConfigured(_("The allocation list has not been generated yet. The data centre has been "
                                  "alerted."), code="no_list")
        record.stratum = fx.stratum_of(levels, config.factors)
        entry = (BlockListEntry.objects.select_for_update(of=("self",))
                 .filter(config=config, stratum=record.stratum, used_by__isnull=True).order_by("position").first())
        if entry is None:
            exc = BlockListExhausted(
                _("The allocation list of this patient's stratum is used up, so she cannot be randomized now. "
                  "The data centre has been alerted and will contact you; do not start any allocated treatment."),
                code="exhausted",
            )
            exc.stratum = record.stratum
            raise exc
        record.block_entry = entry
        record.arm = entry.arm

    # The ledger's gapless sequence: the kit's counter, its row locked last and until commit (a refusal above
    # or a rollback of the caller gives the number back); the hash chains to the highest allocation.
    record.sequence = numbering.next_number(ALLOCATION_SERIES, floor=last["sequence"] if last else 0)
    now = timezone.now()
    record.allocated_at = now
    record.signed_at = now
    record.hash = ledger.compute_hash(record)
    auditing.save(record, user=user, reason="Randomized")
    _count_allocation(config, levels, locked.site_id, record.arm, tally_rows)

    if config.frozen_at is None:
        config.frozen_at = now
        auditing.save(config, user=user, reason="Frozen by the first allocation", update_fields=["frozen_at"])

    locked.stage = Patient.Stage.RANDOMIZED
    auditing.save(locked, user=user, reason=f"Randomized (allocation #{record.sequence})", update_fields=["stage"])
    patient.stage = locked.stage  # the caller's instance must not save a stale stage later

    allocation_id = record.pk
    transaction.on_commit(lambda: send_result_email(allocation_id), robust=True)
    return record


# ---------------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------------


def _send(recipients, template: str, context: dict):
    """One message per language of the recipients (users), text and HTML (the kit's renderer)."""
    for message in mail.to_users(recipients, template, context):
        message.send()


def send_result_email(allocation_id: int):
    """The result to the site's active coordinators and investigators (screening number only)."""
    record = Allocation.objects.select_related("patient__site").get(pk=allocation_id)
    members = (Membership.objects.filter(site_id=record.patient.site_id, active=True, user__is_active=True,
                                         role__in=[Membership.Role.COORDINATOR, Membership.Role.INVESTIGATOR])
               .select_related("user"))
    _send([m.user for m in members], "randomization/email/result", {
        "allocation": record,
        "url": settings.SITE_URL.rstrip("/") + reverse("randomization:result", args=[record.patient_id]),
    })


def _alert_data_managers(*, patient, error):
    try:
        managers = User.objects.filter(groups__name=TrialRole.DATA_MANAGER, is_active=True).distinct()
        _send(managers, "randomization/email/alert", {
            "patient": patient, "site": patient.site, "error": error, "code": error.code,
            "stratum": getattr(error, "stratum", ""), "when": timezone.now(),
        })
    except Exception:  # the site's refusal must not become a crash because the alert could not be sent
        logger.exception("Could not alert the data managers about %s", error.code)
    logger.error("Randomization refused for %s (%s): %s", patient, error.code, error.message)
