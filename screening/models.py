"""Patients and their screening facts.

A Patient is identified only by a per-site screening number (no names, no hospital IDs). Each
Screening holds every primary-stage fact of ELIGIBILITY.md as recorded by the site, with lesions and a
lab panel as child rows, and keeps the verdict snapshot of the engine at the time it was evaluated. A
patient can be re-screened: a new Screening, the old one kept as it was.

Writes go through screening/services.py only. `to_primary_facts()` is the single translation from the
database to the pure engine (screening/eligibility.py), used by the forms, the registration service
and the reports alike.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from oligami_site.models import Site

from . import eligibility as rules

YES_NO_UNKNOWN = [(True, _("Yes")), (False, _("No"))]


class ConsentDocument(models.Model):
    """A version of the informed-consent document (説明文書・同意書), managed by the data centre (issue 17).

    In force from its effective date up to its superseded date (screening.eligibility.consent); the
    superseded date is set by screening.consents.add_version when the next version takes effect.
    """

    version = models.CharField(_("version"), max_length=20, unique=True)
    effective_date = models.DateField(_("effective date"), unique=True)
    superseded_date = models.DateField(_("superseded date"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["effective_date"]
        verbose_name = _("consent document version")
        verbose_name_plural = _("consent document versions")

    def __str__(self):
        return self.version

    def to_facts(self) -> rules.ConsentDocument:
        return rules.ConsentDocument(version=self.version, effective_date=self.effective_date,
                                     superseded_date=self.superseded_date)


class Patient(models.Model):
    class Stage(models.TextChoices):
        """Where the patient is in the trial's flow; moved only by the services, in their transaction, as the
        stage machine allows (screening.stages: the same values, and the table of which step is allowed when)."""

        SCREENING = "screening", _("Screening")
        SCREEN_FAILED = "screen_failed", _("Screen failed")
        ELIGIBLE = "eligible", _("Eligible, awaiting primary registration")
        REGISTERED = "registered", _("Primary registered, on systemic therapy")
        RANDOMIZED = "randomized", _("Randomized")
        OFF_STUDY = "off_study", _("Off study")

    class Sex(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients", verbose_name=_("site"))
    screening_number = models.CharField(_("screening number"), max_length=24, unique=True, editable=False)
    sequence = models.PositiveIntegerField(editable=False)  # per site, gapless; the number's digits
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    birth_date = models.DateField(_("date of birth"))
    initials = models.CharField(
        _("initials"), max_length=4, blank=True,
        help_text=_("Optional, up to 4 letters. Never enter names or hospital IDs."),
    )
    stage = models.CharField(_("stage"), max_length=24, choices=Stage.choices, default=Stage.SCREENING)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "sequence"]
        constraints = [models.UniqueConstraint(fields=["site", "sequence"], name="patient_sequence_per_site")]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self):
        return self.screening_number


class LabPanel(models.Model):
    """Laboratory values drawn on one day (P16, S8). Reused by the response evaluation."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lab_panels",
                                verbose_name=_("patient"))
    date = models.DateField(_("date drawn"), null=True, blank=True)
    anc = models.DecimalField(_("neutrophil count (/mm³)"), max_digits=8, decimal_places=0, null=True, blank=True)
    hemoglobin = models.DecimalField(_("haemoglobin (g/dL)"), max_digits=4, decimal_places=1, null=True, blank=True)
    platelets = models.DecimalField(_("platelets (/mm³)"), max_digits=9, decimal_places=0, null=True, blank=True)
    bilirubin = models.DecimalField(_("total bilirubin (mg/dL)"), max_digits=4, decimal_places=2, null=True,
                                    blank=True)
    ast = models.DecimalField(_("AST (U/L)"), max_digits=6, decimal_places=0, null=True, blank=True)
    alt = models.DecimalField(_("ALT (U/L)"), max_digits=6, decimal_places=0, null=True, blank=True)
    creatinine = models.DecimalField(_("creatinine (mg/dL)"), max_digits=4, decimal_places=2, null=True,
                                     blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("lab panel")
        verbose_name_plural = _("lab panels")

    def __str__(self):
        return f"{self.patient} labs {self.date or '?'}"

    def to_facts(self) -> rules.Labs:
        return rules.Labs(date=self.date, anc=self.anc, hemoglobin=self.hemoglobin, platelets=self.platelets,
                          bilirubin=self.bilirubin, ast=self.ast, alt=self.alt, creatinine=self.creatinine)


RECEPTOR_CHOICES = [("positive", _("positive")), ("negative", _("negative")), ("unknown", _("unknown"))]
HISTORY_CHOICES = [
    ("none", _("<1> no previous breast cancer")),
    ("noninvasive", _("<2> previous surgery for unilateral non-invasive cancer")),
    ("invasive", _("<3> previous surgery for unilateral invasive cancer")),
    ("noninvasive_and_contralateral_invasive",
     _("<4> previous surgery for non-invasive cancer and for contralateral invasive cancer")),
]
TUMOUR_CHOICES = [("none", _("none")), ("noninvasive", _("non-invasive")), ("invasive", _("invasive"))]
SIDE_CHOICES = [("ipsilateral", _("ipsilateral")), ("contralateral", _("contralateral"))]
ORGAN_CHOICES = [("bone", _("bone")), ("brain", _("brain")), ("lung", _("lung")), ("liver", _("liver")),
                 ("lymph_node", _("lymph node")), ("other", _("other"))]
BILSKY_CHOICES = [(rules.BILSKY_NOT_SPINAL, _("not spinal (not applicable)")), ("0", "0"), ("1a", "1a"),
                  ("1b", "1b"), ("1c", "1c"), ("2", "2"), ("3", "3")]
ECOG_CHOICES = [(i, str(i)) for i in range(5)]


class Screening(models.Model):
    """One screening of a patient: every primary-stage fact, and the verdict when it was evaluated."""

    class Outcome(models.TextChoices):
        DRAFT = "draft", _("Draft (facts missing)")
        ELIGIBLE = "eligible", _("Eligible")
        NOT_ELIGIBLE = "not_eligible", _("Not eligible (screen failure)")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screenings",
                                verbose_name=_("patient"))
    number = models.PositiveSmallIntegerField(_("screening no."), default=1, editable=False)
    screening_date = models.DateField(
        _("screening date"), help_text=_("The date the criteria are judged on (the planned registration date)."))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.DRAFT)

    # P1
    invasive_carcinoma = models.BooleanField(_("invasive carcinoma on histology"), null=True, blank=True)
    metastasis_biopsied = models.BooleanField(_("an oligometastasis was biopsied"), null=True, blank=True)
    # P2
    er = models.CharField(_("ER"), max_length=8, choices=RECEPTOR_CHOICES, null=True, blank=True)
    pgr = models.CharField(_("PgR"), max_length=8, choices=RECEPTOR_CHOICES, null=True, blank=True)
    her2 = models.CharField(_("HER2"), max_length=8, choices=RECEPTOR_CHOICES, null=True, blank=True)
    # P3
    # CASES.md's presentation.history (named apart from `history`, the audit trail manager)
    presentation_history = models.CharField(_("previous breast cancer surgery"), max_length=40,
                                            choices=HISTORY_CHOICES, null=True, blank=True)
    breast_tumour = models.CharField(_("breast / chest-wall tumour now"), max_length=12, choices=TUMOUR_CHOICES,
                                     null=True, blank=True)
    bilateral = models.BooleanField(_("tumour now in both breasts"), null=True, blank=True)
    side = models.CharField(_("side of the tumour now (to the previous cancer)"), max_length=16,
                            choices=SIDE_CHOICES, null=True, blank=True)
    invasive_proven_by_metastasis_biopsy = models.BooleanField(
        _("invasive cancer proven by biopsy of an oligometastasis"), null=True, blank=True)
    diagnosed_as_recurrence = models.BooleanField(_("tumour now diagnosed as recurrence"), null=True, blank=True)
    # P4
    ct_date = models.DateField(_("neck-to-pelvis contrast CT"), null=True, blank=True)
    pet_date = models.DateField(_("FDG-PET or PET/CT"), null=True, blank=True)
    brain_mri_date = models.DateField(_("contrast brain MRI"), null=True, blank=True)
    # P6
    other_distant_metastasis = models.BooleanField(_("distant metastasis other than the recorded lesions"),
                                                   null=True, blank=True)
    # P10
    ecog = models.PositiveSmallIntegerField(_("ECOG performance status"), choices=ECOG_CHOICES, null=True,
                                            blank=True)
    # P12, P13
    prior_metastasis_treatment = models.BooleanField(
        _("prior surgery, drug therapy or radiotherapy for distant metastasis"), null=True, blank=True)
    radical_primary_surgery_since_metastasis_diagnosis = models.BooleanField(
        _("radical surgery of the primary or regional nodes since the metastasis diagnosis"), null=True, blank=True)
    # P14: each part of the initial treatment is a date or "not given"; a part with neither is not
    # recorded (P14 missing for recurrent disease, never read as "not given"). The end of initial
    # treatment is derived as the latest date among the parts given.
    initial_surgery_date = models.DateField(_("surgery of the initial cancer"), null=True, blank=True)
    initial_surgery_not_given = models.BooleanField(_("surgery of the initial cancer: not given"),
                                                    default=False)
    perioperative_chemotherapy_end_date = models.DateField(_("end of perioperative chemotherapy"), null=True,
                                                           blank=True)
    perioperative_chemotherapy_not_given = models.BooleanField(_("perioperative chemotherapy: not given"),
                                                               default=False)
    targeted_therapy_end_date = models.DateField(_("end of molecular targeted therapy"), null=True, blank=True)
    targeted_therapy_not_given = models.BooleanField(_("molecular targeted therapy: not given"), default=False)
    recurrence_date = models.DateField(_("recurrence diagnosed"), null=True, blank=True)
    # P15
    other_cancer_therapy_within_5_years = models.BooleanField(
        _("therapy for another malignancy within 5 years"), null=True, blank=True)
    # P16
    labs = models.ForeignKey(LabPanel, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("laboratory values"))
    # P17, P18
    lvef_percent = models.DecimalField(_("LVEF (%)"), max_digits=4, decimal_places=1, null=True, blank=True)
    consent_date = models.DateField(_("written informed consent"), null=True, blank=True)
    # P18: the version signed (issue 17), chosen by the site: never filled in for them, so a consent on an
    # old form stays visible (P18 not met) instead of being recorded as the current version.
    consent_version = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", verbose_name=_("consent document version"))
    # E1-E13: True = the exclusion applies; None = not yet recorded
    e1 = models.BooleanField(_("E1 another active malignancy"), null=True, blank=True)
    e2 = models.BooleanField(_("E2 infection needing systemic treatment"), null=True, blank=True)
    e3 = models.BooleanField(_("E3 fever of 38 °C or higher"), null=True, blank=True)
    e4 = models.BooleanField(_("E4 pregnant or possibly pregnant, within 28 days after delivery, or breastfeeding"),
                             null=True, blank=True)
    e5 = models.BooleanField(_("E5 psychiatric disorder hindering participation"), null=True, blank=True)
    e6 = models.BooleanField(_("E6 continuous systemic steroid or immunosuppressant"), null=True, blank=True)
    e7 = models.BooleanField(_("E7 unstable angina, or myocardial infarction within 6 months"), null=True,
                             blank=True)
    e8 = models.BooleanField(_("E8 uncontrolled hypertension"), null=True, blank=True)
    e9 = models.BooleanField(_("E9 uncontrolled diabetes mellitus"), null=True, blank=True)
    e10 = models.BooleanField(_("E10 heart failure NYHA II or higher, or uncontrolled cardiomyopathy"), null=True,
                              blank=True)
    e11 = models.BooleanField(_("E11 severe arrhythmia needing treatment"), null=True, blank=True)
    e12 = models.BooleanField(_("E12 interstitial pneumonia, pulmonary fibrosis or severe emphysema"), null=True,
                              blank=True)
    e13 = models.BooleanField(_("E13 HBs antigen positive"), null=True, blank=True)

    # The verdict snapshot (every criterion with status and reason) and the engine that made it.
    verdict = models.JSONField(_("verdict"), null=True, blank=True, editable=False)
    engine_version = models.CharField(_("engine version"), max_length=80, blank=True, editable=False)
    subtype = models.CharField(_("subtype"), max_length=8, null=True, blank=True, editable=False)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Optimistic concurrency (issue 13): every save that writes adds one; a save from a form loaded at an
    # older version is refused with what differs (screening.services.save_screening), never lost silently.
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    history = HistoricalRecords()

    EXCLUSION_FIELDS = tuple(f"e{i}" for i in range(1, 14))
    # P14: the parts of the initial treatment, each (date field, "not given" field).
    INITIAL_TREATMENT_PARTS = (
        ("initial_surgery_date", "initial_surgery_not_given"),
        ("perioperative_chemotherapy_end_date", "perioperative_chemotherapy_not_given"),
        ("targeted_therapy_end_date", "targeted_therapy_not_given"),
    )

    class Meta:
        ordering = ["patient", "number"]
        constraints = [models.UniqueConstraint(fields=["patient", "number"], name="screening_number_per_patient")]
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")

    def __str__(self):
        return f"{self.patient} screening {self.number}"

    def initial_treatment_parts(self) -> list:
        """P14: each part as the engine reads it: its date, NOT_GIVEN, or None (not recorded)."""
        return [getattr(self, date) or (rules.NOT_GIVEN if getattr(self, not_given) else None)
                for date, not_given in self.INITIAL_TREATMENT_PARTS]

    def to_primary_facts(self, registration_date=None, lesions=None) -> rules.PrimaryFacts:
        """The engine's facts for this screening, judged on `registration_date` (default: screening date).

        `lesions` may be passed when they are already loaded (avoids a query per screening in lists).
        """
        lesions = list(self.lesions.all()) if lesions is None else lesions
        return rules.PrimaryFacts(
            registration_date=registration_date or self.screening_date,
            birth_date=self.patient.birth_date,
            sex=self.patient.sex,
            invasive_carcinoma=self.invasive_carcinoma,
            metastasis_biopsied=self.metastasis_biopsied,
            er=self.er, pgr=self.pgr, her2=self.her2,
            presentation=rules.Presentation(
                history=self.presentation_history, breast_tumour=self.breast_tumour, bilateral=self.bilateral,
                side=self.side,
                invasive_proven_by_metastasis_biopsy=self.invasive_proven_by_metastasis_biopsy,
                diagnosed_as_recurrence=self.diagnosed_as_recurrence,
            ),
            staging=rules.Staging(ct_date=self.ct_date, pet_date=self.pet_date, brain_mri_date=self.brain_mri_date),
            lesions=[lesion.to_facts() for lesion in lesions],
            other_distant_metastasis=self.other_distant_metastasis,
            ecog=self.ecog,
            prior_metastasis_treatment=self.prior_metastasis_treatment,
            radical_primary_surgery_since_metastasis_diagnosis=(
                self.radical_primary_surgery_since_metastasis_diagnosis),
            initial_treatment_end_date=rules.initial_treatment_end(*self.initial_treatment_parts()),
            recurrence_date=self.recurrence_date,
            other_cancer_therapy_within_5_years=self.other_cancer_therapy_within_5_years,
            labs=self.labs.to_facts() if self.labs_id else None,
            lvef_percent=self.lvef_percent,
            consent_date=self.consent_date,
            consent_document=self.consent_version.to_facts() if self.consent_version_id else None,
            consent_version_required=True,
            exclusions={f.upper(): getattr(self, f) for f in self.EXCLUSION_FIELDS},
        )


class Lesion(models.Model):
    """One oligometastasis (P5, P7) with the bone findings of P8 when it is a bone lesion.

    More than three may be entered: a fourth lesion is recorded and fails P5 rather than being
    impossible to enter.
    """

    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="lesions",
                                  verbose_name=_("screening"))
    position = models.PositiveSmallIntegerField(_("no."), default=1)
    organ = models.CharField(_("organ"), max_length=12, choices=ORGAN_CHOICES)
    diameter_mm = models.DecimalField(_("maximum diameter (mm)"), max_digits=5, decimal_places=1, null=True,
                                      blank=True)
    mdt_feasible = models.BooleanField(_("radiation or surgery feasible"), null=True, blank=True)
    symptomatic = models.BooleanField(_("symptomatic (brain lesions)"), null=True, blank=True)
    # P8, bone lesions only
    three_consecutive_vertebrae = models.BooleanField(_("three consecutive vertebral bodies"), null=True,
                                                      blank=True)
    bilsky_grade = models.CharField(_("Bilsky grade"), max_length=12, choices=BILSKY_CHOICES, null=True,
                                    blank=True)
    femoral_head_neck_trochanter = models.BooleanField(_("reaches femoral head, neck or trochanter"), null=True,
                                                       blank=True)
    cortical_defect_over_one_third = models.BooleanField(_("cortical defect over one third"), null=True,
                                                         blank=True)
    uncontrolled_pain = models.BooleanField(_("severe pain not controlled by drugs"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["screening", "position", "id"]
        verbose_name = _("lesion")
        verbose_name_plural = _("lesions")

    def __str__(self):
        return f"{self.screening} lesion {self.position} ({self.organ})"

    def to_facts(self) -> rules.Lesion:
        bone = None
        if self.organ == "bone":
            bone = rules.BoneFindings(
                three_consecutive_vertebrae=self.three_consecutive_vertebrae,
                bilsky_grade=self.bilsky_grade,
                femoral_head_neck_trochanter=self.femoral_head_neck_trochanter,
                cortical_defect_over_one_third=self.cortical_defect_over_one_third,
                uncontrolled_pain=self.uncontrolled_pain,
            )
        return rules.Lesion(organ=self.organ, diameter_mm=self.diameter_mm, mdt_feasible=self.mdt_feasible,
                            symptomatic=self.symptomatic, bone=bone)


class Reconsent(models.Model):
    """A patient's consent on a newer version of the consent document after she entered the trial (issue 17).

    Her first consent is on her screening (consent date and version); each re-consent is one row here,
    written by screening.consents.record_reconsent. Her current version is the latest of these.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reconsents",
                                verbose_name=_("patient"))
    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="reconsents",
                                 verbose_name=_("consent document version"))
    date = models.DateField(_("re-consent date"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "date", "id"]
        constraints = [models.UniqueConstraint(fields=["patient", "document"], name="one_reconsent_per_version")]
        verbose_name = _("re-consent")
        verbose_name_plural = _("re-consents")

    def __str__(self):
        return f"{self.patient} re-consent {self.document} {self.date}"
