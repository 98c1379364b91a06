"""OLIGAMI eligibility engine: facts in, a verdict with criterion-level reasons out.

Pure rules, standard library only: no Django, no project imports. The same engine serves the screening
forms, the ``check_eligibility`` command (protocol/CASES.md), the reminder scan and the reports.
The rules are protocol/ELIGIBILITY.md; every rule below cites its criterion ID.

Conventions
- Every fact may be ``None``: the fact is absent. A criterion that needs an absent fact is ``missing``,
  never ``not_met`` ("Missing facts" in ELIGIBILITY.md) -- unless another fact it needs already fails
  it: a fact that definitely fails is a definite answer, so ``not_met`` wins over ``missing``.
- Numbers are compared as ``Decimal`` (floats are converted through ``str``), so 1.5 <= 1.5 and
  2.3 <= 2.3 hold exactly at the boundaries.
- Human-readable text is a %-format template marked with the no-op ``_`` (xgettext extracts ``_()``);
  the values go in ``params``. Values that are themselves words (organ, subtype, a fact's name, yes/no)
  are ``Label`` strings, so the web layer can translate them too: ``result.render(gettext)``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple


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
# Criteria catalogue and interpretations (help text for the forms)
# --------------------------------------------------------------------------------------------------


class CriterionInfo(NamedTuple):
    id: str
    title: str
    help_text: str


def _info(cid: str, title: str, help_text: str = "") -> tuple[str, CriterionInfo]:
    return cid, CriterionInfo(cid, title, help_text)


CRITERIA: dict[str, CriterionInfo] = dict(
    [
        _info(
            "P1",
            _("Invasive breast carcinoma on histology"),
            _("Biopsy of an oligometastasis is desirable, not required; record whether it was done."),
        ),
        _info(
            "P2",
            _("ER, PgR and HER2 known; subtype luminal, HER2-positive or triple-negative"),
            _(
                "The subtype is derived, never typed in: any of ER, PgR, HER2 unknown gives no subtype "
                "(not eligible); HER2 positive gives HER2-positive; HER2 negative with ER or PgR positive "
                "gives luminal; all three negative gives triple-negative."
            ),
        ),
        _info(
            "P3",
            _("Presentation matches one of <1> to <4>"),
            _(
                "A bilateral tumour now fits none of them. Invasive cancer proven by biopsy of an "
                "oligometastasis requires that the oligometastasis was biopsied (P1)."
            ),
        ),
        _info(
            "P4",
            _("Staged with contrast CT (neck to pelvis), FDG-PET and contrast brain MRI"),
            _("All three examinations dated on or before registration; no recency limit."),
        ),
        _info("P5", _("1 to 3 oligometastases, each at most 30 mm; brain at most 20 mm and asymptomatic")),
        _info("P6", _("No distant metastasis other than the recorded oligometastases")),
        _info("P7", _("Metastasis-directed therapy feasible for every oligometastasis")),
        _info(
            "P8",
            _("No excluded bone lesion findings"),
            _(
                "For each bone lesion none of: three consecutive vertebral bodies; Bilsky grade 1b or "
                "higher; femoral head, neck or trochanter; cortical defect over one third; severe pain "
                "not controlled by drugs."
            ),
        ),
        _info("P9", _("Age 18 to 80"), _("Completed years on the registration date.")),
        _info("P10", _("ECOG performance status 0 or 1")),
        _info("P11", _("A measurable lesion is not required"), _("Informational: never fails.")),
        _info(
            "P12",
            _("No prior treatment of distant metastasis"),
            _("Bisphosphonates, RANKL inhibitors and diagnostic surgery are allowed."),
        ),
        _info("P13", _("No radical surgery of the primary or regional nodes since the metastasis diagnosis")),
        _info(
            "P14",
            _("Disease-free interval of 12 months or more (recurrent disease)"),
            _("Not applicable (met) for de novo disease."),
        ),
        _info("P15", _("No systemic therapy for another malignancy within 5 years")),
        _info(
            "P16",
            _("Laboratory values within 14 days before registration"),
            _(
                "ANC at least 1500 /mm3; haemoglobin at least 9.0 g/dL; platelets at least 100,000 /mm3; "
                "total bilirubin at most 1.5 mg/dL; AST and ALT at most 100 U/L; creatinine at most "
                "1.5 mg/dL (2.3 mg/dL for luminal)."
            ),
        ),
        _info("P17", _("Left ventricular ejection fraction over 50 percent"), _("Exactly 50 fails.")),
        _info("P18", _("Written informed consent dated on or before registration")),
        _info("E1", _("Another active malignancy")),
        _info("E2", _("Infection needing systemic treatment")),
        _info("E3", _("Fever of 38 C or higher")),
        _info("E4", _("Pregnant or possibly pregnant, within 28 days after delivery, or breastfeeding")),
        _info("E5", _("Psychiatric disorder that would hinder participation")),
        _info("E6", _("Continuous systemic steroid or immunosuppressant therapy")),
        _info("E7", _("Unstable angina, or myocardial infarction within 6 months")),
        _info("E8", _("Uncontrolled hypertension")),
        _info("E9", _("Uncontrolled diabetes mellitus")),
        _info(
            "E10",
            _(
                "Heart failure NYHA class II or higher, or uncontrolled dilated or hypertrophic "
                "cardiomyopathy"
            ),
        ),
        _info(
            "E11",
            _("Severe arrhythmia needing treatment"),
            _("Atrial fibrillation and paroxysmal supraventricular tachycardia are excepted."),
        ),
        _info("E12", _("Interstitial pneumonia, pulmonary fibrosis or severe emphysema on chest CT")),
        _info("E13", _("HBs antigen positive")),
        _info(
            "S1",
            _("Primary registration done and the planned systemic therapy courses given"),
            _("The planned number of courses per subtype is trial configuration."),
        ),
        _info("S2", _("No progression and no new distant metastasis at response evaluation")),
        _info("S3", _("Secondary registration within 28 days of the response evaluation")),
        _info("S4", _("Secondary registration 84 to 126 days after primary registration")),
        _info("S5", _("At least one oligometastasis remains and is feasible for definitive local therapy")),
        _info("S6", _("No metastasis-directed therapy since primary registration")),
        _info("S7", _("ECOG performance status 0 or 1")),
        _info(
            "S8",
            _("Laboratory values within 14 days before secondary registration"),
            _("Thresholds as P16; creatinine limit by the subtype derived at primary registration."),
        ),
    ]
)

# Every *(interp.)* of ELIGIBILITY.md, keyed by the case-file field it affects (CASES.md names), so a
# form can show it next to the field.
INTERPRETATIONS: dict[str, str] = {
    "staging": _(
        "P4 (interpretation): CT, FDG-PET and brain MRI must all be dated on or before "
        "registration. The listing sets no recency limit, so the dates are shown, not judged."
    ),
    "lesions.bone.femoral_head_neck_trochanter": _(
        "P8(iii) (interpretation): a long bone lesion reaching any one of the femoral head, neck or "
        'trochanter excludes (the listing says "and").'
    ),
    "lesions.bone.uncontrolled_pain": _(
        "P8(v) (interpretation): severe pain not controlled by drugs is recorded per bone lesion."
    ),
    "presentation": _(
        "Recurrent or de novo (interpretation): recurrent after surgery for a previous invasive cancer "
        "(<3>, <4>), or after surgery for a non-invasive cancer with no breast or chest-wall tumour now "
        "(<2>(i)); de novo in <1> and <2>(ii). The disease-free interval (P14) applies to recurrent "
        "disease only."
    ),
    "initial_treatment_end_date": _(
        "P14 (interpretation): the end of initial treatment is the latest of surgery, end of "
        "perioperative chemotherapy and end of molecular targeted therapy; adjuvant endocrine therapy "
        "does not count. Record each part as a date or as not given: a part left blank is not recorded "
        "and leaves P14 missing."
    ),
    "recurrence_date": _(
        "P14 (interpretation): the recurrence date must be on or after the same calendar day 12 months "
        "after the end of initial treatment (29 February + 12 months = 28 February)."
    ),
    "other_cancer_therapy_within_5_years": _(
        "P15 (interpretation): 5 calendar years, counted like the 12 months of P14."
    ),
    "lvef_percent": _("P17 (interpretation): over 50 means strictly greater than 50; exactly 50 fails."),
    "exclusions.E1": _(
        "E1 (interpretation): the listing's wording is garbled; read as any other malignancy that was not "
        "curatively treated with no evidence of disease for at least 5 years, checked at primary "
        "registration."
    ),
    "exclusions.E2": _('E2 (interpretation of "infection with care"): infection needing systemic treatment.'),
    "exclusions.E3": _('E3 (interpretation of "fever up 38 degrees"): fever of 38 C or higher.'),
    "exclusions.E4": _(
        'E4 (interpretation): "childbearing potential" read as possible pregnancy, as Japanese protocols '
        "word it; not every premenopausal woman."
    ),
    "exclusions.E10": _('E10 (interpretation of "class II"): NYHA class II or higher.'),
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


# --------------------------------------------------------------------------------------------------
# Laboratory values (P16 and S8: one implementation)
# --------------------------------------------------------------------------------------------------

# (field, label, unit, kind, limit): kind "min" means value >= limit, "max" value <= limit.
_LAB_LIMITS = (
    ("anc", Label(_("neutrophil count (ANC)")), "/mm3", "min", ANC_MIN),
    ("hemoglobin", Label(_("haemoglobin")), "g/dL", "min", HEMOGLOBIN_MIN),
    ("platelets", Label(_("platelets")), "/mm3", "min", PLATELETS_MIN),
    ("bilirubin", Label(_("total bilirubin")), "mg/dL", "max", BILIRUBIN_MAX),
    ("ast", Label(_("AST")), "U/L", "max", AST_MAX),
    ("alt", Label(_("ALT")), "U/L", "max", ALT_MAX),
)
T_LAB_MIN_MET = _("%(fact)s %(value)s %(unit)s >= %(limit)s %(unit)s")
T_LAB_MIN_NOT = _("%(fact)s %(value)s %(unit)s < %(limit)s %(unit)s")
T_LAB_MAX_MET = _("%(fact)s %(value)s %(unit)s <= %(limit)s %(unit)s")
T_LAB_MAX_NOT = _("%(fact)s %(value)s %(unit)s > %(limit)s %(unit)s")
T_CREAT_MET = _("creatinine %(value)s mg/dL <= %(limit)s mg/dL (%(subtype)s)")
T_CREAT_NOT = _("creatinine %(value)s mg/dL > %(limit)s mg/dL (%(subtype)s)")
T_CREAT_UNDECIDED = _(
    "creatinine %(value)s mg/dL: the limit is %(limit)s mg/dL, or %(luminal_limit)s mg/dL "
    "if luminal, and the subtype cannot be derived from what is recorded"
)


def check_labs(
    labs: Labs | None,
    registration_date: dt.date | None,
    subtype: str | None,
    criterion_id: str,
    *,
    subtype_recorded: bool = True,
) -> CriterionResult:
    """P16 / S8: labs dated 0 to 14 days before registration, and every value within its limit.

    ``subtype`` None with ``subtype_recorded`` True is the null subtype (a receptor unknown): creatinine
    limit 1.5 mg/dL. ``subtype_recorded`` False means the subtype itself is an absent fact, so a
    creatinine between the two limits cannot be judged (missing), while one over 2.3 fails either way.
    """
    cid = criterion_id
    if labs is None:
        return _result(cid, MISSING, T_NOT_RECORDED, {"fact": Label(_("laboratory results"))})
    items: list[CriterionResult] = []

    # The window: "within 14 days prior to registration" = 0 <= registration - date <= 14.
    if labs.date is None:
        items.append(_result(f"{cid}.date", MISSING, T_NOT_RECORDED, {"fact": Label(_("laboratory date"))}))
    elif registration_date is None:
        items.append(_result(f"{cid}.date", MISSING, T_REGISTRATION_NOT_RECORDED))
    else:
        days = _days(registration_date, labs.date)
        params = {
            "date": labs.date,
            "registration": registration_date,
            "days": days,
            "limit": LAB_WINDOW_DAYS,
        }
        if days < 0:  # drawn after registration: not "prior to" it
            items.append(
                _result(
                    f"{cid}.date",
                    NOT_MET,
                    _("laboratory results dated %(date)s, after registration on %(registration)s"),
                    params,
                )
            )
        elif days > LAB_WINDOW_DAYS:
            items.append(
                _result(
                    f"{cid}.date",
                    NOT_MET,
                    _(
                        "laboratory results dated %(date)s, %(days)s days before registration "
                        "(limit %(limit)s days)"
                    ),
                    params,
                )
            )
        else:
            items.append(
                _result(
                    f"{cid}.date",
                    MET,
                    _(
                        "laboratory results dated %(date)s, %(days)s days before registration "
                        "(within %(limit)s days)"
                    ),
                    params,
                )
            )

    for name, label, unit, kind, limit in _LAB_LIMITS:
        value = _num(getattr(labs, name))
        if value is None:
            items.append(_result(f"{cid}.{name}", MISSING, T_NOT_RECORDED, {"fact": label}))
            continue
        params = {"fact": label, "value": value, "unit": unit, "limit": limit}
        if kind == "min":
            ok = value >= limit
            template = T_LAB_MIN_MET if ok else T_LAB_MIN_NOT
        else:
            ok = value <= limit
            template = T_LAB_MAX_MET if ok else T_LAB_MAX_NOT
        items.append(_result(f"{cid}.{name}", MET if ok else NOT_MET, template, params))

    # (vii) creatinine <= 1.5 mg/dL, <= 2.3 mg/dL for luminal.
    creatinine = _num(labs.creatinine)
    if creatinine is None:
        items.append(_result(f"{cid}.creatinine", MISSING, T_NOT_RECORDED, {"fact": Label(_("creatinine"))}))
    elif not subtype_recorded:
        params = {
            "value": creatinine,
            "limit": CREATININE_MAX,
            "luminal_limit": CREATININE_MAX_LUMINAL,
            "subtype": SUBTYPE_LABELS[None],
        }
        if creatinine <= CREATININE_MAX:
            items.append(_result(f"{cid}.creatinine", MET, T_CREAT_MET, params))
        elif creatinine > CREATININE_MAX_LUMINAL:
            items.append(
                _result(
                    f"{cid}.creatinine", NOT_MET, T_CREAT_NOT, {**params, "limit": CREATININE_MAX_LUMINAL}
                )
            )
        else:
            items.append(_result(f"{cid}.creatinine", MISSING, T_CREAT_UNDECIDED, params))
    else:
        limit = creatinine_limit(subtype)
        params = {
            "value": creatinine,
            "limit": limit,
            "subtype": SUBTYPE_LABELS.get(subtype, SUBTYPE_LABELS[None]),
        }
        ok = creatinine <= limit
        items.append(
            _result(f"{cid}.creatinine", MET if ok else NOT_MET, T_CREAT_MET if ok else T_CREAT_NOT, params)
        )

    if any(item.status != MET for item in items):
        return _combine(cid, items, "", {})
    # Met: every value is known, so the summary names each value and its limit.
    values = {name: _num(getattr(labs, name)) for name, *_rest in _LAB_LIMITS}
    creatinine_item = items[-1]
    return _combine(
        cid,
        items,
        _(
            "laboratory results dated %(date)s, %(days)s days before registration (within %(window)s days): "
            "ANC %(anc)s >= %(anc_min)s /mm3, haemoglobin %(hemoglobin)s >= %(hemoglobin_min)s g/dL, "
            "platelets %(platelets)s >= %(platelets_min)s /mm3, bilirubin %(bilirubin)s <= %(bilirubin_max)s "
            "mg/dL, AST %(ast)s <= %(ast_max)s U/L, ALT %(alt)s <= %(alt_max)s U/L, creatinine "
            "%(creatinine)s <= %(creatinine_max)s mg/dL (%(subtype)s)"
        ),
        {
            **values,
            "date": labs.date,
            "days": items[0].params["days"],
            "window": LAB_WINDOW_DAYS,
            "anc_min": ANC_MIN,
            "hemoglobin_min": HEMOGLOBIN_MIN,
            "platelets_min": PLATELETS_MIN,
            "bilirubin_max": BILIRUBIN_MAX,
            "ast_max": AST_MAX,
            "alt_max": ALT_MAX,
            "creatinine": creatinine_item.params["value"],
            "creatinine_max": creatinine_item.params["limit"],
            "subtype": creatinine_item.params["subtype"],
        },
    )


# --------------------------------------------------------------------------------------------------
# Primary registration
# --------------------------------------------------------------------------------------------------


def _p1(f: PrimaryFacts) -> CriterionResult:
    # P1: invasive carcinoma on histology. The metastasis biopsy is recorded (P3 uses it), not required.
    if f.invasive_carcinoma is None:
        return _result("P1", MISSING, T_NOT_RECORDED, {"fact": Label(_("invasive carcinoma on histology"))})
    return _result(
        "P1",
        MET if f.invasive_carcinoma else NOT_MET,
        _(
            "invasive carcinoma on histology: %(value)s (required: yes); oligometastasis biopsied: "
            "%(biopsied)s (desirable, not required)"
        ),
        {"value": _yes_no(f.invasive_carcinoma), "biopsied": _yes_no(f.metastasis_biopsied)},
    )


def _p2(f: PrimaryFacts) -> CriterionResult:
    # P2: ER, PgR and HER2 each known. "unknown" fails definitely (even with another receptor absent);
    # an absent receptor is missing.
    receptors = {"ER": f.er, "PgR": f.pgr, "HER2": f.her2}
    params = {k: _shown(v) for k, v in (("er", f.er), ("pgr", f.pgr), ("her2", f.her2))}
    template = _("ER %(er)s, PgR %(pgr)s, HER2 %(her2)s: %(result)s")
    if "unknown" in receptors.values():
        return _result(
            "P2", NOT_MET, template, {**params, "result": Label(_("a receptor status is unknown"))}
        )
    if any(v not in RECEPTOR_STATUSES for v in receptors.values()):
        return _result(
            "P2", MISSING, template, {**params, "result": Label(_("a receptor status is not recorded"))}
        )
    subtype = derive_subtype(f.er, f.pgr, f.her2)
    return _result("P2", MET, template, {**params, "result": SUBTYPE_LABELS[subtype]})


# P3 presentation branches (ELIGIBILITY.md "P3 presentations").
_BRANCH_TEXT = {
    "1i": _(
        "presentation <1>(i): no previous breast cancer; unilateral non-invasive tumour now; invasive "
        "cancer proven by biopsy of an oligometastasis"
    ),
    "1ii": _("presentation <1>(ii): no previous breast cancer; unilateral invasive tumour now"),
    "2i": _(
        "presentation <2>(i): previous non-invasive cancer; no breast/chest-wall tumour now; invasive "
        "cancer proven by biopsy of an oligometastasis"
    ),
    "2ii": _("presentation <2>(ii): previous non-invasive cancer; unilateral invasive tumour now"),
    "3i": _("presentation <3>(i): previous invasive cancer; no breast/chest-wall tumour now"),
    "3ii": _(
        "presentation <3>(ii): previous invasive cancer; ipsilateral tumour now, diagnosed as recurrence"
    ),
    "4": _(
        "presentation <4>: previous non-invasive and contralateral invasive cancer; no breast/chest-wall "
        "tumour now"
    ),
}
T_P3_NONE_FITS = _("%(situation)s: fits none of presentations <1> to <4>")
T_P3_REQUIRES = _("%(branch)s requires %(requirement)s: %(value)s")
_BILATERAL = Label(_("a unilateral tumour now"))
_PROVEN = Label(_("invasive cancer proven by biopsy of an oligometastasis"))
_BIOPSIED = Label(_("a biopsied oligometastasis (P1 record)"))
_IPSILATERAL = Label(_("a tumour ipsilateral to the previous cancer"))
_RECURRENCE = Label(_("diagnosis of the tumour now as recurrence"))


def _p3(f: PrimaryFacts) -> CriterionResult:
    p = f.presentation
    if p is None:
        return _result("P3", MISSING, T_NOT_RECORDED, {"fact": Label(_("presentation"))})
    tumour_now = p.breast_tumour in ("noninvasive", "invasive")
    # "A bilateral tumour now fits none of them": definite whatever the history.
    if tumour_now and p.bilateral is True:
        return _result("P3", NOT_MET, T_P3_NONE_FITS, {"situation": Label(_("bilateral tumour now"))})
    if p.history is None:
        return _result("P3", MISSING, T_NOT_RECORDED, {"fact": Label(_("previous breast cancer surgery"))})
    if p.breast_tumour is None:
        return _result("P3", MISSING, T_NOT_RECORDED, {"fact": Label(_("breast/chest-wall tumour now"))})

    # Pick the only branch the history and the tumour now allow, or fail with the situation.
    key = (p.history, p.breast_tumour)
    branches = {
        ("none", "noninvasive"): "1i",
        ("none", "invasive"): "1ii",
        ("noninvasive", "none"): "2i",
        ("noninvasive", "invasive"): "2ii",
        ("invasive", "none"): "3i",
        ("invasive", "noninvasive"): "3ii",
        ("invasive", "invasive"): "3ii",
        ("noninvasive_and_contralateral_invasive", "none"): "4",
    }
    if key not in branches:
        situations = {
            ("none", "none"): _("no previous breast cancer and no breast/chest-wall tumour now"),
            ("noninvasive", "noninvasive"): _("previous non-invasive cancer and a non-invasive tumour now"),
            ("noninvasive_and_contralateral_invasive", "noninvasive"): _(
                "previous non-invasive and contralateral invasive cancer, and a tumour now"
            ),
            ("noninvasive_and_contralateral_invasive", "invasive"): _(
                "previous non-invasive and contralateral invasive cancer, and a tumour now"
            ),
        }
        situation = situations.get(key, _("presentation not in the list"))
        return _result("P3", NOT_MET, T_P3_NONE_FITS, {"situation": Label(situation)})
    branch = branches[key]
    name = {
        "1i": "<1>(i)",
        "1ii": "<1>(ii)",
        "2i": "<2>(i)",
        "2ii": "<2>(ii)",
        "3i": "<3>(i)",
        "3ii": "<3>(ii)",
        "4": "<4>",
    }[branch]

    # Each branch's further conditions: (requirement label, recorded value, required value).
    conditions: list[tuple[Label, Any, Any]] = []
    if tumour_now:
        conditions.append((_BILATERAL, p.bilateral, False))
    if branch in ("1i", "2i"):
        # "Proven by biopsy of an oligometastasis" needs the biopsy itself (P1's record): a claimed proof
        # without a biopsy fails.
        conditions.append((_PROVEN, p.invasive_proven_by_metastasis_biopsy, True))
        conditions.append((_BIOPSIED, f.metastasis_biopsied, True))
    if branch == "3ii":
        conditions.append((_IPSILATERAL, p.side, "ipsilateral"))
        conditions.append((_RECURRENCE, p.diagnosed_as_recurrence, True))
    # <2>(ii) "either side": the side is not judged.

    for requirement, value, required in conditions:  # a definite failure first
        if value is not None and value != required:
            return _result(
                "P3",
                NOT_MET,
                T_P3_REQUIRES,
                {"branch": name, "requirement": requirement, "value": _shown(value)},
            )
    for requirement, value, _required in conditions:
        if value is None:
            return _result(
                "P3",
                MISSING,
                T_P3_REQUIRES,
                {"branch": name, "requirement": requirement, "value": NOT_RECORDED},
            )
    return _result("P3", MET, _BRANCH_TEXT[branch])


_EXAMS = (
    ("ct_date", Label(_("contrast CT"))),
    ("pet_date", Label(_("FDG-PET"))),
    ("brain_mri_date", Label(_("contrast brain MRI"))),
)


def _p4(f: PrimaryFacts) -> CriterionResult:
    # P4 (interp.): each of the three examinations dated on or before registration; no recency limit,
    # because the listing sets none: the dates are shown, not judged.
    staging = f.staging or Staging()
    items = []
    for name, label in _EXAMS:
        d = getattr(staging, name)
        if d is None:
            items.append(_result(f"P4.{name}", MISSING, T_NOT_RECORDED, {"fact": label}))
        elif f.registration_date is None:
            items.append(_result(f"P4.{name}", MISSING, T_REGISTRATION_NOT_RECORDED))
        elif d > f.registration_date:
            items.append(
                _result(
                    f"P4.{name}",
                    NOT_MET,
                    _("%(fact)s dated %(date)s, after registration on %(registration)s"),
                    {"fact": label, "date": d, "registration": f.registration_date},
                )
            )
        else:
            items.append(_result(f"P4.{name}", MET, _("%(fact)s dated %(date)s"), {"fact": label, "date": d}))
    return _combine(
        "P4",
        items,
        _(
            "contrast CT %(ct)s, FDG-PET %(pet)s, brain MRI %(mri)s: all on or before registration "
            "on %(registration)s"
        ),
        {
            "ct": staging.ct_date,
            "pet": staging.pet_date,
            "mri": staging.brain_mri_date,
            "registration": f.registration_date,
        },
    )


def _lesion_params(n: int, lesion: Lesion, **extra: Any) -> dict:
    return {"n": n, "organ": ORGAN_LABELS.get(lesion.organ, ORGAN_LABELS[None]), **extra}


T_LESION_NOT_RECORDED = _("lesion %(n)s (%(organ)s): %(fact)s not recorded")


def _p5_lesion(n: int, lesion: Lesion) -> CriterionResult:
    """One lesion against P5(i) and P5(iii)."""
    d = _num(lesion.diameter_mm)
    brain = lesion.organ == "brain" if lesion.organ is not None else None
    p = _lesion_params(n, lesion, value=d, limit=DIAMETER_MAX_MM, brain_limit=BRAIN_DIAMETER_MAX_MM)
    if d is not None and d > DIAMETER_MAX_MM:  # P5(i): each <= 30 mm
        return _result(f"P5.{n}", NOT_MET, _("lesion %(n)s (%(organ)s): %(value)s mm > %(limit)s mm"), p)
    if brain and d is not None and d > BRAIN_DIAMETER_MAX_MM:  # P5(iii): brain <= 20 mm
        return _result(
            f"P5.{n}", NOT_MET, _("lesion %(n)s (%(organ)s): %(value)s mm > %(brain_limit)s mm"), p
        )
    if brain and lesion.symptomatic is True:  # P5(iii): brain lesions asymptomatic
        return _result(
            f"P5.{n}",
            NOT_MET,
            _("lesion %(n)s (%(organ)s): symptomatic (brain lesions must be asymptomatic)"),
            p,
        )
    if d is None:
        return _result(f"P5.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": Label(_("maximum diameter"))})
    if brain is None and (d > BRAIN_DIAMETER_MAX_MM or lesion.symptomatic is not False):
        # Without the organ we cannot tell whether the brain limits apply; they would matter here.
        return _result(f"P5.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": Label(_("organ"))})
    if brain and lesion.symptomatic is None:
        return _result(f"P5.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": Label(_("symptoms"))})
    return _result(f"P5.{n}", MET, _("lesion %(n)s (%(organ)s): %(value)s mm"), p)


def _p5(f: PrimaryFacts) -> CriterionResult:
    if f.lesions is None:
        return _result("P5", MISSING, T_NOT_RECORDED, {"fact": Label(_("oligometastases"))})
    count = len(f.lesions)
    items = [_p5_lesion(n, lesion) for n, lesion in enumerate(f.lesions, start=1)]
    # The reason names every lesion over its limit (size and organ), not only the first or the count, so
    # the coordinator sees at once everything that stands in the way.
    over = Joined(item for item in items if item.status == NOT_MET)
    count_params = {"count": count, "min": LESIONS_MIN, "max": LESIONS_MAX, "lesions": over}
    # P5(ii): 1 to 3 in total; no lesions fails.
    if not LESIONS_MIN <= count <= LESIONS_MAX:
        if over:
            template = _("oligometastases recorded: %(count)s (allowed: %(min)s to %(max)s); %(lesions)s")
        else:
            template = _("oligometastases recorded: %(count)s (allowed: %(min)s to %(max)s)")
        return _result("P5", NOT_MET, template, count_params, items)
    if len(over) > 1:
        return _result("P5", NOT_MET, "%(lesions)s", {"lesions": over}, items)
    largest = max((_num(les.diameter_mm) or Decimal(0)) for les in f.lesions)
    return _combine(
        "P5",
        items,
        _(
            "oligometastases: %(count)s, largest %(largest)s mm (limits: %(limit)s mm each, "
            "%(brain_limit)s mm and asymptomatic in the brain)"
        ),
        {"count": count, "largest": largest, "limit": DIAMETER_MAX_MM, "brain_limit": BRAIN_DIAMETER_MAX_MM},
    )


def _p7(f: PrimaryFacts) -> CriterionResult:
    # P7: MDT feasible for every oligometastasis; with none recorded it is met vacuously (P5 fails).
    if f.lesions is None:
        return _result("P7", MISSING, T_NOT_RECORDED, {"fact": Label(_("oligometastases"))})
    items = []
    for n, lesion in enumerate(f.lesions, start=1):
        p = _lesion_params(n, lesion)
        if lesion.mdt_feasible is None:
            items.append(
                _result(
                    f"P7.{n}",
                    MISSING,
                    T_LESION_NOT_RECORDED,
                    {**p, "fact": Label(_("feasibility of metastasis-directed therapy"))},
                )
            )
        elif lesion.mdt_feasible:
            items.append(
                _result(
                    f"P7.{n}", MET, _("lesion %(n)s (%(organ)s): metastasis-directed therapy feasible"), p
                )
            )
        else:
            items.append(
                _result(
                    f"P7.{n}",
                    NOT_MET,
                    _(
                        "lesion %(n)s (%(organ)s): metastasis-directed therapy "
                        "not feasible (required for every oligometastasis)"
                    ),
                    p,
                )
            )
    return _combine(
        "P7",
        items,
        _("metastasis-directed therapy feasible for every oligometastasis (%(count)s)"),
        {"count": len(f.lesions)},
    )


# P8 findings in protocol order; (ii) Bilsky grade is a grade, not a yes/no, and is handled apart.
_BONE_FINDINGS = (
    ("three_consecutive_vertebrae", Label(_("three consecutive vertebral bodies"))),  # (i)
    ("bilsky_grade", Label(_("Bilsky grade (or: not spinal)"))),  # (ii)
    ("femoral_head_neck_trochanter", Label(_("femoral head, neck or trochanter"))),  # (iii) interp.: any
    ("cortical_defect_over_one_third", Label(_("cortical defect over one third"))),  # (iv)
    ("uncontrolled_pain", Label(_("severe pain not controlled by drugs"))),  # (v), per lesion
)


def _bone_lesion(n: int, lesion: Lesion) -> CriterionResult:
    """P8 for one lesion. A lesion whose organ is absent is judged as if it might be bone (Kleene logic):
    a bad finding then cannot fail it for sure (missing), clean findings pass it either way."""
    p = _lesion_params(n, lesion)
    is_bone = lesion.organ == "bone" if lesion.organ is not None else None
    if is_bone is False:
        return _result(f"P8.{n}", MET, _("lesion %(n)s (%(organ)s): not a bone lesion"), p)
    bone = lesion.bone
    if bone is None:
        fact = _("organ") if is_bone is None else _("bone findings")
        return _result(f"P8.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": Label(fact)})
    bad: list[CriterionResult] = []
    absent: list[CriterionResult] = []
    for name, label in _BONE_FINDINGS:
        value = getattr(bone, name)
        if name == "bilsky_grade":
            # (ii) spinal canal extension: Bilsky 1b or higher. None is an absent grade;
            # BILSKY_NOT_SPINAL (null in a case file) means the lesion does not involve the spine.
            if value in BILSKY_EXCLUDED:
                bad.append(
                    _result(
                        f"P8.{n}",
                        NOT_MET,
                        _("lesion %(n)s (%(organ)s): Bilsky grade %(grade)s (excluded: 1b or higher)"),
                        {**p, "grade": value},
                    )
                )
            elif value not in BILSKY_ALLOWED:
                absent.append(_result(f"P8.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": label}))
        elif value is True:
            bad.append(
                _result(
                    f"P8.{n}",
                    NOT_MET,
                    _("lesion %(n)s (%(organ)s): %(finding)s (excluded)"),
                    {**p, "finding": label},
                )
            )
        elif value is None:
            absent.append(_result(f"P8.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": label}))
    if bad and is_bone is None:  # would exclude a bone lesion, but whether it is one is unknown
        return _result(f"P8.{n}", MISSING, T_LESION_NOT_RECORDED, {**p, "fact": Label(_("organ"))})
    if bad or absent:
        return (bad or absent)[0]
    return _result(f"P8.{n}", MET, _("lesion %(n)s (%(organ)s): no excluded bone finding"), p)


def _p8(f: PrimaryFacts) -> CriterionResult:
    # P8: for each bone lesion none of (i)-(v); no bone lesions: met vacuously.
    if f.lesions is None:
        return _result("P8", MISSING, T_NOT_RECORDED, {"fact": Label(_("oligometastases"))})
    items = [_bone_lesion(n, lesion) for n, lesion in enumerate(f.lesions, start=1)]
    bones = sum(1 for lesion in f.lesions if lesion.organ == "bone")
    return _combine(
        "P8", items, _("bone lesions: %(count)s, none with an excluded finding"), {"count": bones}
    )


def _p9(f: PrimaryFacts) -> CriterionResult:
    # P9: 18 <= completed years on the registration date <= 80.
    if f.birth_date is None:
        return _result("P9", MISSING, T_NOT_RECORDED, {"fact": Label(_("birth date"))})
    if f.registration_date is None:
        return _result("P9", MISSING, T_REGISTRATION_NOT_RECORDED)
    age = age_on(f.birth_date, f.registration_date)
    status = MET if AGE_MIN <= age <= AGE_MAX else NOT_MET
    return _result(
        "P9",
        status,
        _("age %(age)s on %(date)s (allowed: %(min)s to %(max)s)"),
        {"age": age, "date": f.registration_date, "min": AGE_MIN, "max": AGE_MAX},
    )


def _p14(f: PrimaryFacts) -> CriterionResult:
    # P14: recurrent disease needs a disease-free interval of 12 months or more; de novo: met (n/a).
    recurrent = is_recurrent(f.presentation)
    if recurrent is None:
        return _result(
            "P14", MISSING, T_NOT_RECORDED, {"fact": Label(_("presentation (recurrent or de novo)"))}
        )
    if not recurrent:
        return _result("P14", MET, _("de novo disease: disease-free interval not applicable"))
    if f.initial_treatment_end_date is None:
        return _result("P14", MISSING, T_NOT_RECORDED, {"fact": Label(_("end of initial treatment"))})
    if f.recurrence_date is None:
        return _result("P14", MISSING, T_NOT_RECORDED, {"fact": Label(_("recurrence date"))})
    # (interp.) on or after the same calendar day 12 months later; 29 Feb + 12 months = 28 Feb.
    try:
        threshold = add_months(f.initial_treatment_end_date, DFI_MONTHS)
    except ValueError:
        threshold = None  # beyond the last representable date: no recurrence date can reach it
    params = {
        "recurrence": f.recurrence_date,
        "end": f.initial_treatment_end_date,
        "threshold": threshold,
        "months": DFI_MONTHS,
    }
    if threshold is not None and f.recurrence_date >= threshold:
        return _result(
            "P14",
            MET,
            _(
                "recurrence %(recurrence)s on or after %(threshold)s (%(months)s months "
                "after the end of initial treatment on %(end)s)"
            ),
            params,
        )
    return _result(
        "P14",
        NOT_MET,
        _(
            "recurrence %(recurrence)s less than %(months)s months after the end of "
            "initial treatment on %(end)s (required: on or after %(threshold)s)"
        ),
        params,
    )


def _p17(f: PrimaryFacts) -> CriterionResult:
    # P17 (interp.): "over 50%" is strictly greater than 50, so exactly 50 fails.
    lvef = _num(f.lvef_percent)
    if lvef is None:
        return _result("P17", MISSING, T_NOT_RECORDED, {"fact": Label(_("LVEF"))})
    params = {"value": lvef, "limit": LVEF_OVER}
    if lvef > LVEF_OVER:
        return _result("P17", MET, _("LVEF %(value)s%% > %(limit)s%%"), params)
    return _result("P17", NOT_MET, _("LVEF %(value)s%% <= %(limit)s%% (required: over %(limit)s%%)"), params)


def _p18(f: PrimaryFacts) -> CriterionResult:
    # P18: written consent dated on or before registration.
    if f.consent_date is None:
        return _result("P18", MISSING, T_NOT_RECORDED, {"fact": Label(_("consent date"))})
    if f.registration_date is None:
        return _result("P18", MISSING, T_REGISTRATION_NOT_RECORDED)
    params = {"date": f.consent_date, "registration": f.registration_date}
    if f.consent_date <= f.registration_date:
        return _result(
            "P18", MET, _("consent dated %(date)s, on or before registration on %(registration)s"), params
        )
    return _result(
        "P18", NOT_MET, _("consent dated %(date)s, after registration on %(registration)s"), params
    )


def _exclusion(cid: str, exclusions: Mapping[str, bool | None] | None) -> CriterionResult:
    # E1-E13: "met" means the exclusion does not apply; an absent flag is missing.
    value = None if exclusions is None else exclusions.get(cid)
    fact = Label(CRITERIA[cid].title)
    if value is None:
        return _result(cid, MISSING, T_NOT_RECORDED, {"fact": fact})
    return _result(
        cid, NOT_MET if value else MET, T_EXCLUSION_APPLIES if value else T_EXCLUSION_NOT, {"fact": fact}
    )


def _creatinine_limit_determined(er: str | None, pgr: str | None, her2: str | None) -> bool:
    """Whether the creatinine limit is known although a receptor may be absent (e.g. HER2 positive
    gives 1.5 whatever ER is). Tries every value for the absent receptors."""
    choices = [(r,) if r is not None else RECEPTOR_STATUSES for r in (er, pgr, her2)]
    limits = {creatinine_limit(derive_subtype(*combo)) for combo in itertools.product(*choices)}
    return len(limits) == 1


def evaluate_primary(facts: PrimaryFacts) -> Verdict:
    f = facts
    subtype = derive_subtype(f.er, f.pgr, f.her2)
    criteria = [
        _p1(f),
        _p2(f),
        _p3(f),
        _p4(f),
        _p5(f),
        _flag(
            "P6",
            _("distant metastasis other than the recorded oligometastases"),
            f.other_distant_metastasis,
            False,
        ),
        _p7(f),
        _p8(f),
        _p9(f),
        _ecog("P10", f.ecog),
        _result("P11", MET, _("a measurable lesion is not required")),  # informational: never fails
        _flag(
            "P12",
            _("prior surgery, drug therapy or radiotherapy for distant metastasis"),
            f.prior_metastasis_treatment,
            False,
        ),
        _flag(
            "P13",
            _("radical surgery of the primary or regional nodes since the metastasis diagnosis"),
            f.radical_primary_surgery_since_metastasis_diagnosis,
            False,
        ),
        _p14(f),
        _flag(
            "P15",
            _("systemic therapy for another malignancy within 5 years"),
            f.other_cancer_therapy_within_5_years,
            False,
        ),
        check_labs(
            f.labs,
            f.registration_date,
            subtype,
            "P16",
            subtype_recorded=_creatinine_limit_determined(f.er, f.pgr, f.her2),
        ),
        _p17(f),
        _p18(f),
    ]
    criteria += [_exclusion(cid, f.exclusions) for cid in EXCLUSION_IDS]
    return Verdict(stage=PRIMARY, subtype=subtype, criteria=tuple(criteria))


# --------------------------------------------------------------------------------------------------
# Secondary registration
# --------------------------------------------------------------------------------------------------


def _s1(f: SecondaryFacts) -> CriterionResult:
    # S1: primary registration done (its date recorded) and the planned courses for the subtype given.
    # The planned number is trial configuration; the caller records whether it was completed.
    if f.primary_registration_date is None:
        return _result("S1", MISSING, T_NOT_RECORDED, {"fact": Label(_("primary registration date"))})
    return _flag("S1", _("planned systemic therapy courses completed"), f.planned_courses_completed, True)


def _s2(f: SecondaryFacts) -> CriterionResult:
    # S2: no progression and no new distant metastasis. A definite finding fails even if another fact is
    # absent ("Response evaluation and the count of remaining lesions must agree", ELIGIBILITY.md).
    r = f.response_evaluation or ResponseEvaluation()
    # PD is progression, whatever the progression box says.
    if r.overall_response == PD:
        return _result(
            "S2", NOT_MET, _("overall response %(response)s: progression"), {"response": RESPONSE_LABELS[PD]}
        )
    findings = ((_("progression"), r.progression), (_("new distant metastasis"), r.new_distant_metastasis))
    for fact, value in findings:
        if value is True:
            return _result("S2", NOT_MET, T_REQUIRED, {"fact": Label(fact), "value": YES, "required": NO})
    # More remaining oligometastases than at primary registration are new lesions: progression.
    if (
        f.primary_lesion_count is not None
        and f.remaining_lesions is not None
        and f.remaining_lesions > f.primary_lesion_count
    ):
        return _result(
            "S2",
            NOT_MET,
            _(
                "new lesions since primary registration: %(count)s oligometastases remaining, "
                "%(primary)s recorded at primary registration (progression)"
            ),
            {"count": f.remaining_lesions, "primary": f.primary_lesion_count},
        )
    # NE: no one can say there was no progression, so S2 cannot be decided.
    if r.overall_response == NE:
        return _result(
            "S2",
            MISSING,
            _("overall response %(response)s: absence of progression cannot be confirmed"),
            {"response": RESPONSE_LABELS[NE]},
        )
    for fact, value in findings:
        if value is None:
            return _result("S2", MISSING, T_NOT_RECORDED, {"fact": Label(fact)})
    return _result("S2", MET, _("response evaluation: no progression, no new distant metastasis"))


def _s3(f: SecondaryFacts) -> CriterionResult:
    # S3: 0 <= registration - evaluation <= 28 days.
    evaluated = f.response_evaluation.date if f.response_evaluation else None
    if evaluated is None:
        return _result("S3", MISSING, T_NOT_RECORDED, {"fact": Label(_("response evaluation date"))})
    if f.registration_date is None:
        return _result("S3", MISSING, T_REGISTRATION_NOT_RECORDED)
    days = _days(f.registration_date, evaluated)
    params = {"date": evaluated, "days": days, "limit": EVALUATION_WINDOW_DAYS}
    if days < 0:
        return _result(
            "S3", NOT_MET, _("response evaluation on %(date)s is after the secondary registration"), params
        )
    if days > EVALUATION_WINDOW_DAYS:
        return _result(
            "S3",
            NOT_MET,
            _("%(days)s days after the response evaluation on %(date)s (limit %(limit)s days)"),
            params,
        )
    return _result(
        "S3",
        MET,
        _("%(days)s days after the response evaluation on %(date)s (within %(limit)s days)"),
        params,
    )


def _s4(f: SecondaryFacts) -> CriterionResult:
    # S4: 84 <= registration - primary registration <= 126 days.
    if f.primary_registration_date is None:
        return _result("S4", MISSING, T_NOT_RECORDED, {"fact": Label(_("primary registration date"))})
    if f.registration_date is None:
        return _result("S4", MISSING, T_REGISTRATION_NOT_RECORDED)
    days = _days(f.registration_date, f.primary_registration_date)
    low, high = SECONDARY_WINDOW_DAYS
    status = MET if low <= days <= high else NOT_MET
    return _result(
        "S4",
        status,
        _("day %(days)s after primary registration on %(date)s (allowed: day %(min)s to %(max)s)"),
        {"days": days, "date": f.primary_registration_date, "min": low, "max": high},
    )


def _s5(f: SecondaryFacts) -> CriterionResult:
    # S5: at least one oligometastasis remains and is feasible for definitive local therapy.
    response = f.response_evaluation.overall_response if f.response_evaluation else None
    if response == CR:
        # CR means no oligometastasis remains: not met. Remaining lesions recorded beside a CR contradict
        # it; the reason names the contradiction so the site corrects the evaluation.
        if f.remaining_lesions:
            return _result(
                "S5",
                NOT_MET,
                _(
                    "overall response %(response)s contradicts %(count)s remaining oligometastases recorded: "
                    "a complete response leaves none (correct the response evaluation)"
                ),
                {"response": RESPONSE_LABELS[CR], "count": f.remaining_lesions},
            )
        return _result(
            "S5",
            NOT_MET,
            _("overall response %(response)s: no oligometastasis remains"),
            {"response": RESPONSE_LABELS[CR]},
        )
    if f.remaining_lesions is None:
        return _result("S5", MISSING, T_NOT_RECORDED, {"fact": Label(_("remaining oligometastases"))})
    status = MET if f.remaining_lesions >= 1 else NOT_MET
    return _result(
        "S5",
        status,
        _("remaining oligometastases feasible for local therapy: %(count)s (required: at least %(min)s)"),
        {"count": f.remaining_lesions, "min": 1},
    )


def evaluate_secondary(facts: SecondaryFacts) -> Verdict:
    f = facts
    subtype = f.subtype if f.subtype in SUBTYPES else None
    criteria = (
        _s1(f),
        _s2(f),
        _s3(f),
        _s4(f),
        _s5(f),
        _flag("S6", _("metastasis-directed therapy since primary registration"), f.mdt_since_primary, False),
        _ecog("S7", f.ecog),
        # S8: thresholds as P16, creatinine by the subtype derived at primary registration. An absent
        # subtype here is an absent fact (a null subtype never reaches secondary registration: P2).
        check_labs(f.labs, f.registration_date, subtype, "S8", subtype_recorded=subtype is not None),
    )
    return Verdict(stage=SECONDARY, subtype=subtype, criteria=criteria)


def evaluate(facts: PrimaryFacts | SecondaryFacts) -> Verdict:
    if isinstance(facts, PrimaryFacts):
        return evaluate_primary(facts)
    if isinstance(facts, SecondaryFacts):
        return evaluate_secondary(facts)
    raise TypeError(f"expected PrimaryFacts or SecondaryFacts, got {type(facts).__name__}")
