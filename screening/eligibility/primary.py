"""Primary registration: P1-P18 and the exclusions E1-E13."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .catalogue import CRITERIA
from .common import (
    AGE_MAX,
    AGE_MIN,
    BILSKY_ALLOWED,
    BILSKY_EXCLUDED,
    BRAIN_DIAMETER_MAX_MM,
    DFI_MONTHS,
    DIAMETER_MAX_MM,
    EXCLUSION_IDS,
    LESIONS_MAX,
    LESIONS_MIN,
    LVEF_OVER,
    MET,
    MISSING,
    NOT_MET,
    NOT_RECORDED,
    ORGAN_LABELS,
    PRIMARY,
    RECEPTOR_STATUSES,
    SUBTYPE_LABELS,
    T_EXCLUSION_APPLIES,
    T_EXCLUSION_NOT,
    T_NOT_RECORDED,
    T_REGISTRATION_NOT_RECORDED,
    CriterionResult,
    Joined,
    Label,
    Lesion,
    PrimaryFacts,
    Staging,
    Verdict,
    _,
    _combine,
    _ecog,
    _flag,
    _num,
    _result,
    _shown,
    _yes_no,
    add_months,
    age_on,
    creatinine_limit,
    derive_subtype,
    is_recurrent,
)
from .consent import in_force
from .labs import check_labs

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
    # P18: written consent dated on or before registration, on a consent document version in force on
    # the consent date (issue 17; consent.in_force: effective date <= consent date < superseded date).
    if f.consent_date is None:
        return _result("P18", MISSING, T_NOT_RECORDED, {"fact": Label(_("consent date"))})
    if f.registration_date is None:
        return _result("P18", MISSING, T_REGISTRATION_NOT_RECORDED)
    params = {"date": f.consent_date, "registration": f.registration_date}
    if f.consent_date > f.registration_date:
        return _result(
            "P18", NOT_MET, _("consent dated %(date)s, after registration on %(registration)s"), params
        )
    if not f.consent_version_required:
        return _result(
            "P18", MET, _("consent dated %(date)s, on or before registration on %(registration)s"), params
        )
    document = f.consent_document
    if document is None:
        return _result("P18", MISSING, T_NOT_RECORDED, {"fact": Label(_("consent document version"))})
    params = {**params, "version": document.version, "effective": document.effective_date,
              "superseded": document.superseded_date}
    if f.consent_date < document.effective_date:
        return _result("P18", NOT_MET, _("consent dated %(date)s on version %(version)s, which took effect only "
                                         "on %(effective)s"), params)
    if not in_force(document, f.consent_date):
        return _result("P18", NOT_MET, _("consent dated %(date)s on version %(version)s, superseded on "
                                         "%(superseded)s"), params)
    return _result("P18", MET, _("consent dated %(date)s on version %(version)s (in force that day), on or "
                                 "before registration on %(registration)s"), params)


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


