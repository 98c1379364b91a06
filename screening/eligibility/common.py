"""Shared by every criterion family: the words and numbers of the protocol (each written once: the day
counts of S3, S4 and P16/S8 are here), the facts, the verdict, and the helpers the forms use too."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .consent import ConsentDocument


def _(message: str) -> str:
    """No-op marker for xgettext: the web layer translates templates when it renders them."""
    return message


class Label(str):
    """A word used as a template parameter that the web layer should translate (organ, subtype...)."""

    __slots__ = ()


class Joined(tuple):
    """Item-level results named together in one reason parameter, e.g. every lesion over its limit (P5).

    Rendered item by item, each in the reader's language, joined by "; ".
    """

    __slots__ = ()

    def render(self, translate=lambda s: s) -> str:
        return "; ".join(item.render(translate) for item in self)

    def __str__(self) -> str:
        return self.render()


ENGINE_VERSION = "oligami-eligibility 1.1 / ELIGIBILITY.md 2026-12"

MET = "met"
NOT_MET = "not_met"
MISSING = "missing"

PRIMARY = "primary"
SECONDARY = "secondary"

# Enumerations of CASES.md.
SEXES = ("female", "male")
RECEPTOR_STATUSES = ("positive", "negative", "unknown")
LUMINAL, HER2, TNBC = "luminal", "her2", "tnbc"
SUBTYPES = (LUMINAL, HER2, TNBC)
HISTORIES = ("none", "noninvasive", "invasive", "noninvasive_and_contralateral_invasive")
TUMOURS = ("none", "noninvasive", "invasive")
SIDES = ("ipsilateral", "contralateral")
ORGANS = ("bone", "brain", "lung", "liver", "lymph_node", "other")
BILSKY_GRADES = ("0", "1a", "1b", "1c", "2", "3")
# RECIST-style overall response at the response evaluation (S2, S5; CASES.md, optional).
CR, PR, SD, PD, NE = "CR", "PR", "SD", "PD", "NE"
RESPONSES = (CR, PR, SD, PD, NE)
# P14: a part of the initial treatment recorded as not given (a blank is "not recorded", never this).
NOT_GIVEN = "not_given"
# CASES.md: a bilsky_grade of null means "the lesion does not involve the spine", which is a fact, not
# an absent one. The engine keeps None for "absent" and uses this value for "not spinal".
BILSKY_NOT_SPINAL = "not_spinal"
BILSKY_ALLOWED = frozenset({"0", "1a", BILSKY_NOT_SPINAL})
BILSKY_EXCLUDED = frozenset({"1b", "1c", "2", "3"})  # P8(ii): grade 1b or higher
EXCLUSION_IDS = tuple(f"E{i}" for i in range(1, 14))
PRIMARY_IDS = tuple(f"P{i}" for i in range(1, 19))
SECONDARY_IDS = tuple(f"S{i}" for i in range(1, 9))

# Limits (ELIGIBILITY.md). Decimal for exact comparison at the boundary.
AGE_MIN, AGE_MAX = 18, 80  # P9, inclusive
LESIONS_MIN, LESIONS_MAX = 1, 3  # P5(ii)
DIAMETER_MAX_MM = Decimal("30")  # P5(i)
BRAIN_DIAMETER_MAX_MM = Decimal("20")  # P5(iii)
ECOG_ALLOWED = (0, 1)  # P10, S7
DFI_MONTHS = 12  # P14
LVEF_OVER = Decimal("50")  # P17: strictly over
LAB_WINDOW_DAYS = 14  # P16, S8
EVALUATION_WINDOW_DAYS = 28  # S3
SECONDARY_WINDOW_DAYS = (84, 126)  # S4, inclusive
ANC_MIN = Decimal("1500")
HEMOGLOBIN_MIN = Decimal("9.0")
PLATELETS_MIN = Decimal("100000")
BILIRUBIN_MAX = Decimal("1.5")
AST_MAX = Decimal("100")
ALT_MAX = Decimal("100")
CREATININE_MAX = Decimal("1.5")
CREATININE_MAX_LUMINAL = Decimal("2.3")

YES, NO, NOT_RECORDED = Label(_("yes")), Label(_("no")), Label(_("not recorded"))

SUBTYPE_LABELS = {
    LUMINAL: Label(_("luminal")),
    HER2: Label(_("HER2-positive")),
    TNBC: Label(_("triple-negative")),
    None: Label(_("subtype not derived")),
}
# Enumerated values shown inside reasons (receptor status, side of the tumour now).
VALUE_LABELS = {
    "positive": Label(_("positive")),
    "negative": Label(_("negative")),
    "unknown": Label(_("unknown")),
    "ipsilateral": Label(_("ipsilateral")),
    "contralateral": Label(_("contralateral")),
}
RESPONSE_LABELS = {
    CR: Label(_("CR (complete response)")),
    PR: Label(_("PR (partial response)")),
    SD: Label(_("SD (stable disease)")),
    PD: Label(_("PD (progressive disease)")),
    NE: Label(_("NE (not evaluable)")),
}
ORGAN_LABELS = {
    "bone": Label(_("bone")),
    "brain": Label(_("brain")),
    "lung": Label(_("lung")),
    "liver": Label(_("liver")),
    "lymph_node": Label(_("lymph node")),
    "other": Label(_("other")),
    None: Label(_("organ not recorded")),
}


# --------------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labs:
    date: dt.date | None = None
    anc: Decimal | None = None  # /mm3
    hemoglobin: Decimal | None = None  # g/dL
    platelets: Decimal | None = None  # /mm3
    bilirubin: Decimal | None = None  # mg/dL, total
    ast: Decimal | None = None  # U/L
    alt: Decimal | None = None  # U/L
    creatinine: Decimal | None = None  # mg/dL


@dataclass(frozen=True)
class BoneFindings:
    three_consecutive_vertebrae: bool | None = None
    bilsky_grade: str | None = None  # BILSKY_GRADES, BILSKY_NOT_SPINAL, or None (absent)
    femoral_head_neck_trochanter: bool | None = None
    cortical_defect_over_one_third: bool | None = None
    uncontrolled_pain: bool | None = None


@dataclass(frozen=True)
class Lesion:
    organ: str | None = None
    diameter_mm: Decimal | None = None
    mdt_feasible: bool | None = None
    symptomatic: bool | None = None  # matters for brain lesions only
    bone: BoneFindings | None = None  # required for bone lesions


@dataclass(frozen=True)
class Presentation:
    history: str | None = None
    breast_tumour: str | None = None
    bilateral: bool | None = None
    side: str | None = None
    invasive_proven_by_metastasis_biopsy: bool | None = None
    diagnosed_as_recurrence: bool | None = None


@dataclass(frozen=True)
class Staging:
    ct_date: dt.date | None = None
    pet_date: dt.date | None = None
    brain_mri_date: dt.date | None = None


@dataclass(frozen=True)
class PrimaryFacts:
    registration_date: dt.date | None = None
    birth_date: dt.date | None = None
    # Recorded, judged by no criterion: the listing accepts all genders ("Gender ALL"); male breast
    # cancer is eligible. E4 (pregnancy) is still recorded as its own flag, never derived from sex.
    sex: str | None = None
    invasive_carcinoma: bool | None = None
    metastasis_biopsied: bool | None = None
    er: str | None = None
    pgr: str | None = None
    her2: str | None = None
    presentation: Presentation | None = None
    staging: Staging | None = None
    lesions: Sequence[Lesion] | None = None
    other_distant_metastasis: bool | None = None
    ecog: int | None = None
    prior_metastasis_treatment: bool | None = None
    radical_primary_surgery_since_metastasis_diagnosis: bool | None = None
    initial_treatment_end_date: dt.date | None = None
    recurrence_date: dt.date | None = None
    other_cancer_therapy_within_5_years: bool | None = None
    labs: Labs | None = None
    lvef_percent: Decimal | None = None
    consent_date: dt.date | None = None
    # P18 (issue 17): the consent document version the patient signed (screening.eligibility.consent).
    # Case files (CASES.md) carry no version: `consent_version_required` False judges the date alone.
    # The web application always requires it, so an unrecorded version is P18 missing there.
    consent_document: ConsentDocument | None = None
    consent_version_required: bool = False
    exclusions: Mapping[str, bool | None] | None = None  # "E1".."E13"; an absent key is absent


@dataclass(frozen=True)
class ResponseEvaluation:
    date: dt.date | None = None
    progression: bool | None = None
    new_distant_metastasis: bool | None = None
    overall_response: str | None = None  # RESPONSES; None: not given, no effect (S2, S5)


@dataclass(frozen=True)
class SecondaryFacts:
    registration_date: dt.date | None = None
    primary_registration_date: dt.date | None = None
    subtype: str | None = None  # as derived at primary registration
    planned_courses_completed: bool | None = None
    response_evaluation: ResponseEvaluation | None = None
    remaining_lesions: int | None = None
    # Oligometastases recorded at primary registration; None: no check. More remaining ones than this
    # are new lesions, i.e. progression (S2).
    primary_lesion_count: int | None = None
    mdt_since_primary: bool | None = None
    ecog: int | None = None
    labs: Labs | None = None


# --------------------------------------------------------------------------------------------------
# Verdict
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: str  # MET, NOT_MET or MISSING
    reason_template: str
    params: dict[str, Any] = field(default_factory=dict)
    # Item-level results (one per lab value, one per lesion) for forms that show each line.
    details: tuple[CriterionResult, ...] = ()

    @property
    def reason(self) -> str:
        return self.reason_template % self.params

    def render(self, translate=lambda s: s) -> str:
        """The reason in the user's language: ``translate`` is e.g. Django's ``gettext``."""
        params = {
            k: translate(v) if isinstance(v, Label) else v.render(translate) if isinstance(v, Joined) else v
            for k, v in self.params.items()
        }
        return translate(self.reason_template) % params


@dataclass(frozen=True)
class Verdict:
    stage: str
    subtype: str | None
    criteria: tuple[CriterionResult, ...]
    engine_version: str = ENGINE_VERSION

    @property
    def failed(self) -> list[str]:
        """P- or S-criteria not met, in ID order."""
        return [c.id for c in self.criteria if c.status == NOT_MET and not c.id.startswith("E")]

    @property
    def missing(self) -> list[str]:
        return [c.id for c in self.criteria if c.status == MISSING]

    @property
    def excluded_by(self) -> list[str]:
        return [c.id for c in self.criteria if c.status == NOT_MET and c.id.startswith("E")]

    @property
    def eligible(self) -> bool:
        # Derived, so it can never disagree with the lists.
        return not (self.failed or self.missing or self.excluded_by)

    def criterion(self, criterion_id: str) -> CriterionResult:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def to_dict(self, case: str | None = None) -> dict[str, Any]:
        """The verdict object of protocol/CASES.md."""
        return {
            "case": case,
            "stage": self.stage,
            "eligible": self.eligible,
            "subtype": self.subtype,
            "failed": self.failed,
            "missing": self.missing,
            "excluded_by": self.excluded_by,
            "criteria": [{"id": c.id, "status": c.status, "reason": c.reason} for c in self.criteria],
        }


# --------------------------------------------------------------------------------------------------
# Helpers (public: the forms and the reminder scan use them too)
# --------------------------------------------------------------------------------------------------


def add_months(d: dt.date, n: int) -> dt.date:
    """Same calendar day n months later, clamped to the month's end (29 Feb + 12 months = 28 Feb).

    Raises ValueError when the result is outside the representable dates.
    """
    year, month0 = divmod(d.year * 12 + (d.month - 1) + n, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError(f"{d} + {n} months is out of range")
    month = month0 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def age_on(birth_date: dt.date, on_date: dt.date) -> int:
    """P9: completed years on ``on_date``.

    A year completes on the birthday; for a 29 February birthday, on 1 March in common years.
    """
    age = on_date.year - birth_date.year
    if (birth_date.month, birth_date.day) == (2, 29) and not _is_leap(on_date.year):
        birthday = (3, 1)
    else:
        birthday = (birth_date.month, birth_date.day)
    if (on_date.month, on_date.day) < birthday:
        age -= 1
    return age


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def derive_subtype(er: str | None, pgr: str | None, her2: str | None) -> str | None:
    """P2 / "Subtype": luminal, her2 or tnbc; None when any receptor is unknown or not recorded."""
    receptors = (er, pgr, her2)
    if any(r not in RECEPTOR_STATUSES for r in receptors) or "unknown" in receptors:
        return None  # rule 1 (an absent receptor cannot be classified either)
    if her2 == "positive":
        return HER2  # rule 2: whatever ER/PgR
    if er == "positive" or pgr == "positive":
        return LUMINAL  # rule 3 (HER2 negative here)
    return TNBC  # rule 4: all three negative


def creatinine_limit(subtype: str | None) -> Decimal:
    """P16(vii) / S8: 2.3 mg/dL for luminal, otherwise (HER2-positive, TN, no subtype) 1.5 mg/dL."""
    return CREATININE_MAX_LUMINAL if subtype == LUMINAL else CREATININE_MAX


def is_recurrent(presentation: Presentation | None) -> bool | None:
    """Recurrent (P14 applies) or de novo; None when the presentation facts needed are absent.

    ELIGIBILITY.md (interp.): recurrent after surgery for a previous invasive cancer (<3>, <4>) or after
    surgery for a non-invasive cancer with no breast tumour now (<2>(i)); de novo in <1> and <2>(ii),
    where an invasive tumour is in the breast at registration.
    """
    if presentation is None or presentation.history is None:
        return None
    history = presentation.history
    if history == "none":
        return False  # <1>: no previous breast cancer, so no initial treatment to measure from
    if history in ("invasive", "noninvasive_and_contralateral_invasive"):
        return True  # <3>, <4>
    if history == "noninvasive":
        tumour = presentation.breast_tumour
        if tumour is None:
            return None
        # <2>(ii) invasive tumour now: de novo. <2>(i) no tumour now: recurrent. A non-invasive tumour
        # now fits no presentation (P3 fails); treated as recurrent, the safer reading, because no
        # invasive tumour is in the breast to explain the metastasis.
        return tumour != "invasive"
    return None


def initial_treatment_end(*parts: dt.date | str | None) -> dt.date | None:
    """P14: the end of initial treatment from its parts (surgery, end of perioperative chemotherapy, end
    of molecular targeted therapy; adjuvant endocrine therapy does not count).

    Each part is its date, ``NOT_GIVEN``, or None when it is not recorded. A blank is never read as "not
    given" ("Recording the initial treatment (P14)"): any part not recorded gives None, and so does a
    treatment with no part given; otherwise the latest date among the parts given.
    """
    if any(part is None for part in parts):
        return None
    given = [part for part in parts if part != NOT_GIVEN]
    return max(given) if given else None


def _num(value: Any) -> Decimal | None:
    """A number as an exact Decimal; None (absent) for None or NaN."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(str(value))  # str(1.5) == "1.5": the number as written, not its binary form
    else:
        try:
            result = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return None
    return None if result.is_nan() else result


def _days(later: dt.date, earlier: dt.date) -> int:
    return (later - earlier).days


def _result(cid: str, status: str, template: str, params: dict | None = None, details=()) -> CriterionResult:
    return CriterionResult(cid, status, template, dict(params or {}), tuple(details))


def _combine(
    cid: str, items: Sequence[CriterionResult], met_template: str, met_params: dict
) -> CriterionResult:
    """Item-level results -> one criterion: the first failing item decides, else the first missing one.

    A definite failure wins over missing facts elsewhere: the criterion cannot be met whatever they are.
    """
    for status in (NOT_MET, MISSING):
        for item in items:
            if item.status == status:
                return _result(cid, status, item.reason_template, item.params, items)
    return _result(cid, MET, met_template, met_params, items)


def _yes_no(value: bool | None) -> Label:
    return NOT_RECORDED if value is None else (YES if value else NO)


def _shown(value: Any) -> Any:
    """A recorded value as a reason parameter: yes/no/not recorded, or an enumerated value's label."""
    if value is None or isinstance(value, bool):
        return _yes_no(value)
    return VALUE_LABELS.get(value, value)


# Templates shared by the yes/no criteria, so there are few to translate.
T_NOT_RECORDED = _("%(fact)s: not recorded")
T_REQUIRED = _("%(fact)s: %(value)s (required: %(required)s)")
T_EXCLUSION_APPLIES = _("%(fact)s: yes (exclusion applies)")
T_EXCLUSION_NOT = _("%(fact)s: no (exclusion does not apply)")
T_REGISTRATION_NOT_RECORDED = _("registration date: not recorded")


def _flag(cid: str, fact: str, value: bool | None, required: bool) -> CriterionResult:
    """A criterion that is one yes/no fact with a required answer (P1, P6, P12, P13, P15, S6)."""
    label = Label(fact)
    if value is None:
        return _result(cid, MISSING, T_NOT_RECORDED, {"fact": label})
    status = MET if value == required else NOT_MET
    return _result(
        cid, status, T_REQUIRED, {"fact": label, "value": _yes_no(value), "required": _yes_no(required)}
    )


def _ecog(cid: str, ecog: int | None) -> CriterionResult:
    # P10 / S7: ECOG PS 0 or 1; 2-4 fail.
    if ecog is None:
        return _result(cid, MISSING, T_NOT_RECORDED, {"fact": Label(_("ECOG performance status"))})
    status = MET if ecog in ECOG_ALLOWED else NOT_MET
    return _result(cid, status, _("ECOG performance status %(value)s (allowed: 0 or 1)"), {"value": ecog})


