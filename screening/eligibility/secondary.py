"""Secondary registration: S1-S8, and `evaluate`, which picks the stage's criteria."""

from __future__ import annotations

from .common import (
    CR,
    EVALUATION_WINDOW_DAYS,
    MET,
    MISSING,
    NE,
    NO,
    NOT_MET,
    PD,
    RESPONSE_LABELS,
    SECONDARY,
    SECONDARY_WINDOW_DAYS,
    SUBTYPES,
    T_NOT_RECORDED,
    T_REGISTRATION_NOT_RECORDED,
    T_REQUIRED,
    YES,
    CriterionResult,
    Label,
    PrimaryFacts,
    ResponseEvaluation,
    SecondaryFacts,
    Verdict,
    _,
    _days,
    _ecog,
    _flag,
    _result,
)
from .labs import check_labs
from .primary import evaluate_primary

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
