"""The criteria catalogue: every criterion's title and interpretation (help text for the forms)."""

from __future__ import annotations

from typing import NamedTuple

from .common import EVALUATION_WINDOW_DAYS, LAB_WINDOW_DAYS, SECONDARY_WINDOW_DAYS, _

# --------------------------------------------------------------------------------------------------
# Criteria catalogue and interpretations (help text for the forms)
# --------------------------------------------------------------------------------------------------


class CriterionInfo(NamedTuple):
    id: str
    title: str  # the msgid; a protocol number in it is a placeholder filled from ``params``
    help_text: str
    params: dict = {}

    def text(self, translate=lambda s: s) -> str:
        """The title in the reader's language (``translate``: e.g. Django's ``gettext``), numbers filled in."""
        title = translate(self.title)
        return title % self.params if self.params else title


def _info(cid: str, title: str, help_text: str = "", **params) -> tuple[str, CriterionInfo]:
    return cid, CriterionInfo(cid, title, help_text, params)


# The protocol's day counts in the titles, from the constants of common.py (each written once there).
_LAB_DAYS = {"days": LAB_WINDOW_DAYS}  # P16, S8


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
            _("Laboratory values within %(days)s days before registration"),
            _(
                "ANC at least 1500 /mm3; haemoglobin at least 9.0 g/dL; platelets at least 100,000 /mm3; "
                "total bilirubin at most 1.5 mg/dL; AST and ALT at most 100 U/L; creatinine at most "
                "1.5 mg/dL (2.3 mg/dL for luminal)."
            ),
            **_LAB_DAYS,
        ),
        _info("P17", _("Left ventricular ejection fraction over 50 percent"), _("Exactly 50 fails.")),
        _info("P18", _("Written informed consent dated on or before registration"),
              _("On a consent document version in force on the consent date (from its effective date, "
                "before its superseded date).")),
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
        _info("S3", _("Secondary registration within %(days)s days of the response evaluation"),
              days=EVALUATION_WINDOW_DAYS),
        _info("S4", _("Secondary registration %(open)s to %(close)s days after primary registration"),
              open=SECONDARY_WINDOW_DAYS[0], close=SECONDARY_WINDOW_DAYS[1]),
        _info("S5", _("At least one oligometastasis remains and is feasible for definitive local therapy")),
        _info("S6", _("No metastasis-directed therapy since primary registration")),
        _info("S7", _("ECOG performance status 0 or 1")),
        _info(
            "S8",
            _("Laboratory values within %(days)s days before secondary registration"),
            _("Thresholds as P16; creatinine limit by the subtype derived at primary registration."),
            **_LAB_DAYS,
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


