"""Every write of screening data: patients, screenings with their lesions and lab panel, re-screening.

Keyword-only functions, each one transaction: validate, write with the audit user and reason on every
row (simple-history), evaluate the engine, store its verdict snapshot and move the patient's stage.
Refusals raise ``ScreeningError`` (or a subclass) with a message for the user; nothing is half-saved.

Lock order, the same in every service of this module so that two of them can never wait on each other:
the Site row (patient numbering) before the Patient row (screenings and stage).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, auditing, enrolment, numbering, sites
from oligami_site.access import Action
from oligami_site.models import Site
from oligami_site.site_status import SiteAction

from . import eligibility as rules
from . import stages, verdicts
from .exceptions import ReasonRequired, ScreeningError, ScreeningLocked, StaleScreening
from .models import LabPanel, Lesion, Patient, Screening

# The stage a screening's outcome puts the patient in (the facts may change until primary registration:
# stages.Step.EDIT_SCREENING).
STAGE_FOR_OUTCOME = {
    Screening.Outcome.DRAFT: Patient.Stage.SCREENING,
    Screening.Outcome.ELIGIBLE: Patient.Stage.ELIGIBLE,
    Screening.Outcome.NOT_ELIGIBLE: Patient.Stage.SCREEN_FAILED,
}

_NOT_FACTS = {"id", "patient", "number", "outcome", "labs", "verdict", "engine_version", "subtype", "evaluated_at",
              "created_at", "version"}
# The facts a screening records (every primary-stage fact of ELIGIBILITY.md except lesions and labs).
FACT_FIELDS = tuple(f.name for f in Screening._meta.concrete_fields if f.name not in _NOT_FACTS)
LESION_FIELDS = ("organ", "diameter_mm", "mdt_feasible", "symptomatic", "three_consecutive_vertebrae",
                 "bilsky_grade", "femoral_head_neck_trochanter", "cortical_defect_over_one_third", "uncontrolled_pain")
BONE_FIELDS = LESION_FIELDS[4:]
LAB_FIELDS = ("date", "anc", "hemoglobin", "platelets", "bilirubin", "ast", "alt", "creatinine")

# What a new screening copies from the previous one when a patient is re-screened: the facts of her
# history that cannot have changed since (histology, receptors, presentation, dates of the initial
# treatment and recurrence). Everything that describes her state *now* (staging, lesions, labs, ECOG,
# LVEF, prior treatment, consent, the exclusions) starts empty and must be recorded afresh, so a
# re-screening is a draft until those facts are re-checked, and can never be eligible on stale facts.
RESCREEN_COPIED_FIELDS = (
    "invasive_carcinoma", "metastasis_biopsied", "er", "pgr", "her2",
    "presentation_history", "breast_tumour", "bilateral", "side", "invasive_proven_by_metastasis_biopsy",
    "diagnosed_as_recurrence",
    "initial_surgery_date", "perioperative_chemotherapy_end_date", "targeted_therapy_end_date", "recurrence_date",
    "initial_surgery_not_given", "perioperative_chemotherapy_not_given", "targeted_therapy_not_given",
)

# Plausible ranges: outside them a value is a typing error, refused with a message (not a clinical
# judgement: the engine judges the protocol's limits). Shared with the forms.
RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "diameter_mm": (Decimal("0.1"), Decimal("500")),
    "lvef_percent": (Decimal("0"), Decimal("100")),
    "anc": (Decimal("0"), Decimal("100000")),
    "hemoglobin": (Decimal("0"), Decimal("25")),
    "platelets": (Decimal("0"), Decimal("2000000")),
    "bilirubin": (Decimal("0"), Decimal("50")),
    "ast": (Decimal("0"), Decimal("10000")),
    "alt": (Decimal("0"), Decimal("10000")),
    "creatinine": (Decimal("0"), Decimal("30")),
}
EARLIEST_DATE = dt.date(1900, 1, 1)
INITIALS = re.compile(r"[A-Z.]{0,4}")


# --------------------------------------------------------------------------------------------------
# Checks shared by the services
# --------------------------------------------------------------------------------------------------


def _require_edit(user, site) -> None:
    if not access.can(user, Action.EDIT, site):
        raise ScreeningError(_("You may not enter screening data at this site."), code="forbidden")


def _check_date(value, label) -> None:
    if value is None:
        return
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ScreeningError(_("%(field)s: not a date.") % {"field": label}, code="invalid")
    if value > timezone.localdate():
        raise ScreeningError(_("%(field)s: a date in the future is not allowed.") % {"field": label},
                             code="future_date")
    if value < EARLIEST_DATE:
        raise ScreeningError(_("%(field)s: a date before 1900 is not plausible.") % {"field": label}, code="invalid")


def _check_range(name: str, value, label) -> None:
    if value is None or name not in RANGES:
        return
    low, high = RANGES[name]
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ScreeningError(_("%(field)s: not a number.") % {"field": label}, code="invalid") from None
    if not number.is_finite() or not low <= number <= high:
        raise ScreeningError(
            _("%(field)s: %(value)s is outside the plausible range %(low)s to %(high)s.")
            % {"field": label, "value": value, "low": low, "high": high},
            code="out_of_range",
        )


def _full_clean(obj, exclude) -> None:
    """The model's own field validation (choices, digits, lengths), as a domain error."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        messages = []
        for name, errors in exc.message_dict.items():
            label = obj._meta.get_field(name).verbose_name if name != "__all__" else ""
            messages.extend(f"{label}: {e}" if label else e for e in errors)
        raise ScreeningError("; ".join(str(m) for m in messages), code="invalid") from None


def _quantize(obj) -> None:
    """Decimals as the database stores them (0.7 -> 0.70 for creatinine), so the verdict computed now
    reads exactly as one computed later from the stored row."""
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if field.get_internal_type() == "DecimalField" and isinstance(value, Decimal):
            setattr(obj, field.attname, value.quantize(Decimal(1).scaleb(-field.decimal_places)))


def _label(model, name):
    return model._meta.get_field(name).verbose_name


# --------------------------------------------------------------------------------------------------
# Patients
# --------------------------------------------------------------------------------------------------


def screening_series(site: Site) -> str:
    """The numbering series of a site's screening numbers (<site code>-S0001...)."""
    return f"screening.site.{site.pk}"


@transaction.atomic
def create_patient(*, site: Site, sex: str, birth_date: dt.date, initials: str = "", user) -> Patient:
    """A new patient at `site` with the next screening number of the site, e.g. TMDU-S0001."""
    _require_edit(user, site)
    initials = (initials or "").strip().upper()
    if not INITIALS.fullmatch(initials):
        raise ScreeningError(_("Initials: up to 4 letters (dots allowed); never names or hospital IDs."),
                             code="invalid")
    if birth_date is None:
        raise ScreeningError(_("The date of birth is required."), code="required")
    _check_date(birth_date, _label(Patient, "birth_date"))
    # Only an open site screens (site_status); checked with the site row locked, the lock change_status
    # also takes, so a site closing at this moment cannot get one more patient.
    site = Site.objects.select_for_update().get(pk=site.pk)
    sites.require(site, SiteAction.SCREENING)
    # The site's own gapless series (the kit's counter, locked until commit; a rolled-back creation gives
    # its number back), above the highest number the site's patients hold.
    last = Patient.objects.filter(site=site).aggregate(last=Max("sequence"))["last"] or 0
    # The enrolment cap (issue 17), under the site row's lock: two coordinators screening the site's last
    # slot at once are serialised here, and the second counts the first's patient (patients are never
    # deleted). Checked before a number is taken, so a refusal consumes none.
    if site.enrolment_cap is not None:
        enrolment.require_below_cap(site, Patient.objects.filter(site=site).count())
    sequence = numbering.next_number(screening_series(site), floor=last)
    patient = Patient(site=site, sequence=sequence, screening_number=f"{site.code}-S{sequence:04d}", sex=sex,
                      birth_date=birth_date, initials=initials, stage=Patient.Stage.SCREENING)
    _full_clean(patient, exclude=["site", "screening_number", "sequence"])
    auditing.mark(patient, user=user, reason="Patient created")
    patient.save()
    return patient


class CriterionChange(NamedTuple):
    """A criterion whose verdict a correction of the patient's sex or date of birth changed."""

    id: str
    before: str  # status: met / not_met / missing
    after: str
    reason: str  # the new reason, in the user's language


class IdentityCorrection(NamedTuple):
    patient: Patient
    changes: list[CriterionChange]  # of the latest screening, judged on its screening date
    reevaluated: bool  # the latest screening's verdict and the patient's stage were recomputed and saved


def may_correct_identity(user, patient: Patient) -> bool:
    """Site staff before primary registration; after it only a data manager (issue 15)."""
    if access.is_data_manager(user):
        return True
    return access.can(user, Action.EDIT, patient.site_id) and stages.allowed(patient.stage,
                                                                              stages.Step.EDIT_SCREENING)


@transaction.atomic
def correct_patient_identity(*, patient: Patient, sex: str, birth_date: dt.date, user,
                             reason: str) -> IdentityCorrection:
    """Correct a patient's sex or date of birth entered wrong, with a reason (issue 15).

    The criteria that read them are judged again: the engine is run on the latest screening with the facts
    before and after, and every criterion whose verdict moved is returned (today P9, the age 18 to 80 on the
    screening date; sex is recorded but judged by no criterion, see eligibility.PrimaryFacts). Before primary
    registration the site corrects it and the screening's verdict, outcome and the patient's stage are
    recomputed and saved. Once registered the verdict the registration was signed on stays as it was; only a
    data manager may then correct the record, and the changes are returned for a deviation to be raised.
    """
    reason = auditing.clean_reason(reason, error=ScreeningError)
    if not reason:
        raise ReasonRequired(_("Give the reason for the correction."), code="reason_required")
    patient = Patient.objects.select_for_update(of=("self",)).select_related("site").get(pk=patient.pk)
    if not access.is_data_manager(user):
        _require_edit(user, patient.site_id)
        if not stages.allowed(patient.stage, stages.Step.EDIT_SCREENING):
            raise ScreeningLocked(
                _("%(patient)s is registered (%(stage)s): sex and date of birth can then be corrected only by a "
                  "data manager. Raise a data query with the data centre.")
                % {"patient": patient.screening_number, "stage": patient.get_stage_display()}, code="registered")
    if sex not in Patient.Sex.values:
        raise ScreeningError(_("Unknown sex %(value)s.") % {"value": sex}, code="invalid")
    if birth_date is None:
        raise ScreeningError(_("The date of birth is required."), code="required")
    _check_date(birth_date, _label(Patient, "birth_date"))
    if (patient.sex, patient.birth_date) == (sex, birth_date):
        raise ScreeningError(_("Sex and date of birth are as recorded: nothing to correct."), code="unchanged")

    screening = patient.screenings.select_related("labs").order_by("-number").first()
    lesions = list(screening.lesions.all()) if screening is not None else []
    before = rules.evaluate(screening.to_primary_facts(lesions=lesions)) if screening is not None else None
    patient.sex, patient.birth_date = sex, birth_date
    auditing.save(patient, user=user, reason=reason, update_fields=["sex", "birth_date"])
    if screening is None:
        return IdentityCorrection(patient, [], False)
    screening.patient = patient
    after = rules.evaluate(screening.to_primary_facts(lesions=lesions))
    changes = [CriterionChange(new.id, old.status, new.status, new.render(gettext))
               for old, new in zip(before.criteria, after.criteria, strict=True)
               if (old.status, old.render(gettext)) != (new.status, new.render(gettext))]
    reevaluated = stages.allowed(patient.stage, stages.Step.EDIT_SCREENING)
    if reevaluated:
        # The screening is still open: its stored verdict and outcome follow the corrected facts, and the stage.
        _evaluate_into(screening, lesions)
        auditing.save(screening, user=user, reason=reason)
        _move_stage(patient, screening.outcome, user, reason)
    return IdentityCorrection(patient, changes, reevaluated)


# --------------------------------------------------------------------------------------------------
# Screenings
# --------------------------------------------------------------------------------------------------


def _lock_open_patient(patient: Patient, user) -> Patient:
    _require_edit(user, patient.site_id)
    # One writer per patient at a time: the screening number n+1 and the stage move are read-then-write.
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    sites.require(patient.site, SiteAction.SCREENING)
    require_step(patient, stages.Step.EDIT_SCREENING, out_of_order=ScreeningLocked)
    return patient


def require_step(patient: Patient, step: stages.Step, *, out_of_order: type[Exception],
                 already_done: type[Exception] | None = None) -> None:
    """Raise the caller's domain error, with the stage machine's translated reason, when `step` is refused
    at the patient's stage (screening.stages.TABLE). Every service that moves a patient asks this first,
    with the patient row locked."""
    refusal = stages.check(patient.stage, step)
    if refusal is None:
        return
    error = already_done if already_done is not None and refusal.kind == stages.Kind.ALREADY_DONE else out_of_order
    number = patient.screening_number
    raise error(gettext(refusal.message) % {"patient": number, "number": number, "step": gettext(step.label),
                                            "stage": str(patient.get_stage_display())}, code=refusal.code)


def _clean_lesions(lesions) -> list[dict[str, Any]]:
    specs = []
    for n, raw in enumerate(lesions or (), start=1):
        unknown = set(raw) - set(LESION_FIELDS) - {"id"}
        if unknown:
            raise ValueError(f"unknown lesion fields: {sorted(unknown)}")
        spec = {name: raw.get(name) for name in LESION_FIELDS}
        spec["id"] = raw.get("id")
        if spec["organ"] != "bone" and any(spec[name] is not None for name in BONE_FIELDS):
            raise ScreeningError(_("Lesion %(n)s: bone findings apply to bone lesions only.") % {"n": n},
                                 code="invalid")
        label = _("Lesion %(n)s") % {"n": n}
        _check_range("diameter_mm", spec["diameter_mm"], f"{label}: {_label(Lesion, 'diameter_mm')}")
        probe = Lesion(screening_id=0, position=n, **{k: spec[k] for k in LESION_FIELDS})
        _full_clean(probe, exclude=["screening"])
        _quantize(probe)
        spec.update({k: getattr(probe, k) for k in LESION_FIELDS})  # the typed values full_clean made
        specs.append(spec)
    return specs


def _clean_labs(labs) -> dict[str, Any] | None:
    if labs is None:
        return None
    unknown = set(labs) - set(LAB_FIELDS)
    if unknown:
        raise ValueError(f"unknown lab fields: {sorted(unknown)}")
    spec = {name: labs.get(name) for name in LAB_FIELDS}
    if all(value is None for value in spec.values()):
        return None  # an empty panel is no panel: P16 is then "not recorded"
    _check_date(spec["date"], _label(LabPanel, "date"))
    for name in LAB_FIELDS[1:]:
        _check_range(name, spec[name], _label(LabPanel, name))
    probe = LabPanel(patient_id=0, **spec)
    _full_clean(probe, exclude=["patient"])
    _quantize(probe)
    return {k: getattr(probe, k) for k in LAB_FIELDS}


def _state(values: dict[str, Any], lesions: list[dict[str, Any]], labs: dict[str, Any] | None) -> dict[str, Any]:
    """Everything recorded, flat, to tell what a save would change (None = not recorded)."""
    state = {f"screening.{k}": v for k, v in values.items()}
    for _date_field, flag in Screening.INITIAL_TREATMENT_PARTS:
        # P14: an unticked "not given" is "not recorded" (like a blank date), so ticking it in a draft
        # fills a missing fact rather than changing a recorded one.
        if f"screening.{flag}" in state:
            state[f"screening.{flag}"] = state[f"screening.{flag}"] or None
    for position, lesion in enumerate(lesions, start=1):
        key = f"lesion.{lesion['id']}" if lesion.get("id") else f"lesion.new{position}"
        state[key] = True
        state[f"{key}.position"] = position
        state.update({f"{key}.{name}": lesion[name] for name in LESION_FIELDS})
    for name in LAB_FIELDS:
        state[f"labs.{name}"] = (labs or {}).get(name)
    return state


def _lesion_dicts(screening: Screening) -> list[dict[str, Any]]:
    return [{"id": lesion.pk, **{name: getattr(lesion, name) for name in LESION_FIELDS}}
            for lesion in screening.lesions.all()]


def _lab_dict(screening: Screening) -> dict[str, Any] | None:
    if not screening.labs_id:
        return None
    return {name: getattr(screening.labs, name) for name in LAB_FIELDS}


def _evaluate_into(screening: Screening, lesions: list[Lesion]) -> rules.Verdict:
    """Run the engine on the screening's facts and store the verdict snapshot and the outcome."""
    verdict = rules.evaluate(screening.to_primary_facts(lesions=lesions))
    now = timezone.now()
    screening.verdict = verdicts.snapshot(verdict, now)
    screening.engine_version = verdict.engine_version
    screening.subtype = verdict.subtype
    screening.evaluated_at = now
    # Any criterion not met (or any exclusion that applies) is a screen failure whatever else is still
    # missing: no missing fact can make it eligible (issue 15; the checklist shows both lists, and CONSORT
    # counts the patient as a screen failure, not as "screening in progress"). One exception: P5 fails
    # with no lesion rows, and in a screening still missing facts that means "not entered yet" (a fresh
    # screening or re-screening), not "no oligometastasis": it stays a draft until the rest is recorded.
    definite = [cid for cid in verdict.failed + verdict.excluded_by if cid != "P5" or lesions]
    if definite or ((verdict.failed or verdict.excluded_by) and not verdict.missing):
        screening.outcome = Screening.Outcome.NOT_ELIGIBLE
    elif verdict.missing:
        screening.outcome = Screening.Outcome.DRAFT  # nothing fails yet: the coordinator is still entering
    else:
        screening.outcome = Screening.Outcome.ELIGIBLE
    return verdict


def _move_stage(patient: Patient, outcome: str, user, reason: str) -> None:
    stage = STAGE_FOR_OUTCOME[outcome]
    if patient.stage != stage:
        patient.stage = stage
        auditing.mark(patient, user=user, reason=reason)
        patient.save(update_fields=["stage"])


def _shown(value) -> str:
    if value is None:
        return str(_("not recorded"))
    if value is True:
        return str(_("yes"))
    if value is False:
        return str(_("no"))
    return str(value)


def _what(key: str, *states: dict[str, Any]) -> str | None:
    """The user's words for a key of _state (None: not worth a line of its own)."""
    head, _dot, name = key.partition(".")
    if head == "screening":
        return str(_label(Screening, name))
    if head == "labs":
        return f"{_('Laboratory values')}: {_label(LabPanel, name)}"
    parts = key.split(".")  # a lesion: "lesion.<id or newN>[.<field>]"
    lesion_key, field = ".".join(parts[:2]), (parts[2] if len(parts) > 2 else "")
    if field == "position":
        return None  # the order shows in the lesions' labels
    position = next((state[f"{lesion_key}.position"] for state in states
                     if state.get(f"{lesion_key}.position") is not None), "?")
    label = str(_("Lesion %(n)s") % {"n": position})
    return f"{label}: {_label(Lesion, field)}" if field else label


def conflicts(before: dict[str, Any], yours: dict[str, Any]) -> list[tuple[str, str, str]]:
    """[(what, yours, saved now)] where the user's entries differ from the saved screening (_state dicts)."""
    rows = []
    for key in sorted(set(before) | set(yours)):
        if before.get(key) != yours.get(key) and (what := _what(key, yours, before)) is not None:
            rows.append((what, _shown(yours.get(key)), _shown(before.get(key))))
    return rows


@transaction.atomic
def save_screening(*, patient: Patient, data: dict[str, Any], lesions, labs, user, reason: str | None = None,
                   screening: Screening | None = None, expected_version: int | None = None) -> Screening:
    """Create the patient's first screening (``screening=None``) or update her latest one.

    ``data``: fact fields of Screening (absent keys keep their value; None for a new screening);
    ``lesions``: the complete list of lesion dicts in order (an ``id`` keeps an existing lesion, lesions
    not listed are removed); ``labs``: dict of the lab panel, or None / all-empty for no panel.

    A reason is required to change a value already recorded, or anything of a screening that has an
    outcome (eligible / not eligible); filling in facts a draft still misses needs none.

    ``expected_version``: the screening's version when the form was loaded. If someone saved it since,
    nothing is written and StaleScreening says where the entries differ from what is saved now (issue 13:
    the last save no longer wins silently). The check runs with the patient row locked, so two saves from
    the same version cannot both pass it. None (callers without a loaded form, e.g. the demo data): no check.
    """
    reason = auditing.clean_reason(reason, error=ScreeningError)
    patient = _lock_open_patient(patient, user)
    unknown = set(data) - set(FACT_FIELDS)
    if unknown:
        raise ValueError(f"unknown screening fields: {sorted(unknown)}")
    lesion_specs = _clean_lesions(lesions)
    lab_spec = _clean_labs(labs)

    if screening is None:
        if patient.screenings.exists():
            raise ScreeningError(
                _("%(patient)s has already been screened: edit the latest screening or re-screen.")
                % {"patient": patient.screening_number},
                code="already_screened",
            )
        screening = Screening(patient=patient, number=1)
        before = None
        existing_lesions: dict[int, Lesion] = {}
    else:
        try:
            screening = Screening.objects.select_related("labs").get(pk=screening.pk, patient=patient)
        except Screening.DoesNotExist:
            raise ScreeningError(_("This screening does not belong to the patient."), code="invalid") from None
        latest = patient.screenings.aggregate(latest=Max("number"))["latest"]
        if screening.number != latest:
            raise ScreeningLocked(
                _("Screening %(number)s was superseded by a re-screening and is kept as it was.")
                % {"number": screening.number},
                code="superseded",
            )
        existing_lesions = {lesion.pk: lesion for lesion in screening.lesions.all()}
        before = _state({k: getattr(screening, k) for k in FACT_FIELDS}, _lesion_dicts(screening),
                        _lab_dict(screening))
        if expected_version is not None and expected_version != screening.version:
            yours = _state({**{k: getattr(screening, k) for k in FACT_FIELDS}, **data}, lesion_specs, lab_spec)
            raise StaleScreening(
                _("Someone else saved this screening after you opened it, so nothing of yours was saved. Your "
                  "entries are still in the form: check them against what is saved now (listed here), then save "
                  "again to keep yours."),
                changes=conflicts(before, yours), current_version=screening.version)
    old_outcome = screening.outcome if before is not None else None

    for name, value in data.items():
        setattr(screening, name, value)
    if screening.screening_date is None:
        raise ScreeningError(_("The screening date is required."), code="required")
    for name in FACT_FIELDS:
        field = Screening._meta.get_field(name)
        if field.get_internal_type() == "DateField":
            _check_date(getattr(screening, name), field.verbose_name)
    _check_range("lvef_percent", screening.lvef_percent, _label(Screening, "lvef_percent"))
    for date_field, flag in Screening.INITIAL_TREATMENT_PARTS:
        # P14: each part is a date or "not given", never both.
        if getattr(screening, date_field) is not None and getattr(screening, flag):
            raise ScreeningError(
                _("%(field)s: record a date or \"not given\", not both.") % {"field": _label(Screening, date_field)},
                code="invalid")
    _full_clean(screening, exclude=["patient", "labs", "verdict", "outcome"])
    _quantize(screening)
    for spec in lesion_specs:
        if spec["id"] is not None and spec["id"] not in existing_lesions:
            raise ScreeningError(_("A lesion does not belong to this screening."), code="invalid")

    if before is None:
        reason = reason or "Screening entered"
    else:
        after = _state({k: getattr(screening, k) for k in FACT_FIELDS}, lesion_specs, lab_spec)
        if after == before:
            return screening  # nothing changed: no write, the stored verdict stands
        changed = sorted(k for k, v in before.items() if v is not None and after.get(k) != v)
        # Completing facts still missing needs no reason, also in a screen failure that misses some;
        # a screening whose verdict was complete (nothing missing) needs one for any change.
        complete = old_outcome != Screening.Outcome.DRAFT and not (screening.verdict or {}).get("missing")
        if not reason and (complete or changed):
            raise ReasonRequired(
                _("Give a reason for the change: this screening was already evaluated or the change alters "
                  "recorded facts."),
                code="reason_required",
            )
        reason = reason or "Missing screening facts added"

    # Labs first: the screening points at its panel.
    old_panel = screening.labs if screening.labs_id else None
    if lab_spec is not None:
        panel = old_panel or LabPanel(patient=patient)
        if panel.pk is None or any(getattr(panel, k) != v for k, v in lab_spec.items()):
            for name, value in lab_spec.items():
                setattr(panel, name, value)
            auditing.mark(panel, user=user, reason=reason)
            panel.save()
        screening.labs = panel
    else:
        screening.labs = None

    # Lesions in memory, in the order given, so the engine sees them before anything is written.
    originals = {pk: {name: getattr(lesion, name) for name in (*LESION_FIELDS, "position")}
                 for pk, lesion in existing_lesions.items()}
    lesion_objects = []
    for position, spec in enumerate(lesion_specs, start=1):
        lesion = existing_lesions.get(spec["id"]) or Lesion(screening=screening)
        lesion.position = position
        for name in LESION_FIELDS:
            setattr(lesion, name, spec[name])
        lesion_objects.append(lesion)

    _evaluate_into(screening, lesion_objects)
    screening.version = (screening.version or 0) + 1
    auditing.mark(screening, user=user, reason=reason)
    screening.save()

    kept = set()
    for lesion in lesion_objects:
        if lesion.pk is not None:
            kept.add(lesion.pk)
            if all(getattr(lesion, k) == v for k, v in originals[lesion.pk].items()):
                continue  # unchanged: no history row
        auditing.mark(lesion, user=user, reason=reason)
        lesion.save()
    for pk, lesion in existing_lesions.items():
        if pk not in kept:
            auditing.mark(lesion, user=user, reason=reason)
            lesion.delete()
    if old_panel is not None and lab_spec is None:
        auditing.mark(old_panel, user=user, reason=reason)
        old_panel.delete()

    _move_stage(patient, screening.outcome, user, reason)
    return screening


@transaction.atomic
def start_rescreening(*, patient: Patient, user, reason: str | None = None,
                      screening_date: dt.date | None = None) -> Screening:
    """A new screening n+1 for a patient screened before; the earlier screening and its verdict stay as
    they were. Copies only the facts of her history (RESCREEN_COPIED_FIELDS); it starts as a draft."""
    reason = auditing.clean_reason(reason, error=ScreeningError)
    patient = _lock_open_patient(patient, user)
    latest = patient.screenings.order_by("-number").first()
    if latest is None:
        raise ScreeningError(_("%(patient)s has not been screened yet.") % {"patient": patient.screening_number},
                             code="not_screened")
    if latest.outcome == Screening.Outcome.DRAFT:
        raise ScreeningError(
            _("Screening %(number)s is still a draft: complete or correct it instead of re-screening.")
            % {"number": latest.number},
            code="draft",
        )
    screening_date = screening_date or timezone.localdate()
    _check_date(screening_date, _label(Screening, "screening_date"))
    screening = Screening(patient=patient, number=latest.number + 1, screening_date=screening_date)
    for name in RESCREEN_COPIED_FIELDS:
        setattr(screening, name, getattr(latest, name))
    _evaluate_into(screening, [])
    reason = reason or f"Re-screening (screening {screening.number})"
    auditing.mark(screening, user=user, reason=reason)
    screening.save()
    _move_stage(patient, screening.outcome, user, reason)
    return screening
