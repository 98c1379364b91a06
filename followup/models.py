"""After randomization (protocol/FOLLOWUP.md): protocol treatment, assessments, deaths, the last date
known alive and withdrawals.

Writes go through followup/services.py only; nothing here has logic in save(), managers or signals.
Every foreign key is PROTECT and no clinical record is ever deleted. Codes of the choices come from the
pure module followup/endpoints.py where the endpoint rules depend on them.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from registration.models import TherapyPlan
from screening.models import Lesion, Patient

from . import endpoints


class SystemicCourse(models.Model):
    """One course of systemic therapy, from primary registration on (S1 counts them before the response
    evaluation; later ones are the protocol treatment after randomization)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses",
                                verbose_name=_("patient"))
    plan = models.ForeignKey(TherapyPlan, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("regimen (therapy plan)"))
    number = models.PositiveSmallIntegerField(_("course no."), editable=False)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True, help_text=_("Empty while ongoing."))
    dose_modified = models.BooleanField(_("dose modified"))
    stopped_early = models.BooleanField(_("stopped early"))
    stopped_early_reason = models.TextField(_("reason stopped early"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "number"]
        constraints = [models.UniqueConstraint(fields=["patient", "number"], name="one_course_number_per_patient")]
        indexes = [models.Index(fields=["patient", "start_date"], name="course_patient_start")]
        verbose_name = _("systemic therapy course")
        verbose_name_plural = _("systemic therapy courses")

    def __str__(self):
        return f"{self.patient} course {self.number}"

    @property
    def ongoing(self) -> bool:
        return self.end_date is None


class Modality(models.TextChoices):
    SBRT = "sbrt", _("Stereotactic radiotherapy")
    CONVENTIONAL_RT = "conventional_rt", _("Conventional radiotherapy")
    SURGERY = "surgery", _("Surgery")
    ABLATION = "ablation", _("Other local ablation")


RADIOTHERAPY = (Modality.SBRT, Modality.CONVENTIONAL_RT)


class MetastasisDirectedTherapy(models.Model):
    """Metastasis-directed therapy of one remaining oligometastasis (arm B)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="mdt",
                                verbose_name=_("patient"))
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="+", verbose_name=_("lesion"))
    modality = models.CharField(_("modality"), max_length=16, choices=Modality.choices)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True, help_text=_("Empty while ongoing."))
    dose_gy = models.DecimalField(_("total dose (Gy)"), max_digits=5, decimal_places=1, null=True, blank=True,
                                  validators=[MinValueValidator(0), MaxValueValidator(200)])
    fractions = models.PositiveSmallIntegerField(_("fractions"), null=True, blank=True,
                                                 validators=[MinValueValidator(1), MaxValueValidator(60)])
    completed_as_planned = models.BooleanField(_("completed as planned"), null=True, blank=True)
    reason = models.TextField(_("reason not completed as planned"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "start_date", "id"]
        verbose_name = _("metastasis-directed therapy")
        verbose_name_plural = _("metastasis-directed therapies")

    def __str__(self):
        return f"{self.patient} MDT {self.get_modality_display()} {self.start_date}"

    @property
    def ongoing(self) -> bool:
        return self.end_date is None


class Contamination(models.Model):
    """Arm A: local therapy to a metastasis given outside the protocol."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="contaminations",
                                verbose_name=_("patient"))
    date = models.DateField(_("date"))
    modality = models.CharField(_("modality"), max_length=16, choices=Modality.choices)
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "date", "id"]
        verbose_name = _("contamination (local therapy outside the protocol)")
        verbose_name_plural = _("contaminations (local therapy outside the protocol)")

    def __str__(self):
        return f"{self.patient} contamination {self.date}"


PROGRESSION_SITE_CHOICES = [
    ("treated_lesion", _("a treated lesion")),
    ("untreated_original", _("an untreated original lesion")),
    ("new_lesion_same_organ", _("a new lesion in an organ already involved")),
    ("new_organ", _("a new organ")),
]


class Assessment(models.Model):
    """A follow-up contact: the patient was alive on `date`, disease status by imaging on that date."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments",
                                verbose_name=_("patient"))
    date = models.DateField(_("assessment date"))
    progression = models.BooleanField(_("progression"))
    progression_sites = models.JSONField(_("where"), default=list, blank=True,
                                         help_text=_("Where progression was seen (codes)."))
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "date", "id"]
        indexes = [models.Index(fields=["patient", "date"], name="assessment_patient_date")]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")

    def __str__(self):
        return f"{self.patient} assessment {self.date}"

    def progression_site_labels(self):
        labels = dict(PROGRESSION_SITE_CHOICES)
        return [labels.get(code, code) for code in self.progression_sites]


class Death(models.Model):
    """The patient's death, once (F1: the event of overall survival)."""

    class Cause(models.TextChoices):
        BREAST_CANCER = endpoints.CAUSE_BREAST_CANCER, _("Breast cancer")
        TREATMENT_RELATED = endpoints.CAUSE_TREATMENT_RELATED, _("Treatment-related")
        OTHER = endpoints.CAUSE_OTHER, _("Other")
        UNKNOWN = endpoints.CAUSE_UNKNOWN, _("Unknown")

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="death",
                                   verbose_name=_("patient"))
    date = models.DateField(_("date of death"))
    cause = models.CharField(_("cause"), max_length=20, choices=Cause.choices)
    details = models.TextField(_("details"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("death")
        verbose_name_plural = _("deaths")

    def __str__(self):
        return f"{self.patient} died {self.date}"


class LastKnownAlive(models.Model):
    """A last date known alive confirmed by the site (from any contact or record), e.g. for a survey.

    Kept as a series, never overwritten: F1 takes the latest.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="last_known_alive",
                                verbose_name=_("patient"))
    date = models.DateField(_("last date known alive"))
    source = models.CharField(_("source"), max_length=200, blank=True,
                              help_text=_("Where the date comes from, e.g. outpatient visit, telephone call."))
    survey = models.ForeignKey("FollowupSurvey", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="alive_dates", verbose_name=_("follow-up survey"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "date", "id"]
        indexes = [models.Index(fields=["patient", "date"], name="lka_patient_date")]
        verbose_name = _("last date known alive")
        verbose_name_plural = _("last dates known alive")

    def __str__(self):
        return f"{self.patient} alive {self.date}"


class Withdrawal(models.Model):
    """The patient's withdrawal, once, of one of three kinds (FOLLOWUP.md "three kinds, three consequences").

    The one model of withdrawals: withdrawal of consent (consent versions, issue 17) records here too.
    """

    class Kind(models.TextChoices):
        TREATMENT = endpoints.WITHDRAWAL_TREATMENT, _("Stops protocol treatment (follow-up continues)")
        VISITS = endpoints.WITHDRAWAL_VISITS, _("No more study visits (vital status and progression from records)")
        ALL_DATA = endpoints.WITHDRAWAL_ALL_DATA, _("Withdraws consent to any further data use")

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="withdrawal",
                                   verbose_name=_("patient"))
    date = models.DateField(_("withdrawal date"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    details = models.TextField(_("details"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")

    def __str__(self):
        return f"{self.patient} withdrawal ({self.kind}) {self.date}"


class FollowupSurvey(models.Model):
    """A follow-up survey of the data centre: every randomized patient's status as of the cut-off date."""

    cutoff_date = models.DateField(_("cut-off date"))
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("opened by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-cutoff_date", "-id"]
        verbose_name = _("follow-up survey")
        verbose_name_plural = _("follow-up surveys")

    def __str__(self):
        return str(_("Follow-up survey, cut-off %(date)s") % {"date": self.cutoff_date.isoformat()})

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class SurveyEntry(models.Model):
    """One randomized patient's status as of a survey's cut-off, confirmed by the site (or, for lost to
    follow-up, by the data manager)."""

    class Status(models.TextChoices):
        ALIVE = "alive", _("Alive")
        DEAD = "dead", _("Dead")

    survey = models.ForeignKey(FollowupSurvey, on_delete=models.PROTECT, related_name="entries",
                               verbose_name=_("follow-up survey"))
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="survey_entries",
                                verbose_name=_("patient"))
    status = models.CharField(_("status as of the cut-off"), max_length=8, choices=Status.choices)
    last_known_alive = models.DateField(_("last date known alive"), null=True, blank=True)
    progression_since_last = models.BooleanField(_("progression since the last survey"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("confirmed by"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["survey", "patient"]
        constraints = [models.UniqueConstraint(fields=["survey", "patient"], name="one_survey_entry_per_patient")]
        verbose_name = _("survey entry")
        verbose_name_plural = _("survey entries")

    def __str__(self):
        return f"{self.patient} {self.survey.cutoff_date} {self.status}"


class LostToFollowUp(models.Model):
    """The data manager's confirmation that a patient is lost to follow-up (FOLLOWUP.md, surveys)."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="lost_to_follow_up",
                                   verbose_name=_("patient"))
    survey = models.ForeignKey(FollowupSurvey, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("follow-up survey"))
    confirmed_at = models.DateTimeField(_("confirmed at"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("confirmed by"))
    details = models.TextField(_("details"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("lost to follow-up")
        verbose_name_plural = _("lost to follow-up")

    def __str__(self):
        return f"{self.patient} lost to follow-up"


class ScheduleRule(models.Model):
    """One period of the schedule of assessments (trial configuration, FOLLOWUP.md): from `from_day` days
    after randomization on, an assessment is due every `interval_days`, allowed `window_days` either side.

    Shown to everyone, frozen once the first assessment has been recorded (services.freeze_schedule).
    The demo's rules (every 84 days +/- 14 for three years, then every 182 +/- 28) are an example, not
    the protocol's.
    """

    from_day = models.PositiveIntegerField(_("from day (after randomization)"), unique=True)
    interval_days = models.PositiveSmallIntegerField(_("interval (days)"),
                                                     validators=[MinValueValidator(7), MaxValueValidator(730)])
    window_days = models.PositiveSmallIntegerField(_("window (+/- days)"), validators=[MaxValueValidator(90)])
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["from_day"]
        verbose_name = _("schedule of assessments")
        verbose_name_plural = _("schedule of assessments")

    def __str__(self):
        return str(_("from day %(day)s: every %(interval)s days +/- %(window)s") % {
            "day": self.from_day, "interval": self.interval_days, "window": self.window_days})


class FollowupSettings(models.Model):
    """Trial-wide follow-up settings (one row): the "status unknown" threshold of the surveys, and the days
    within which metastasis-directed therapy should start in arm B (the data centre's automatic check)."""

    status_unknown_days = models.PositiveSmallIntegerField(
        _("status unknown after (days)"), validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("A patient's status is unknown when the last date known alive is more than this many days "
                    "before a survey's cut-off (example: 180; the protocol decides)."))
    # FOLLOWUP.md gives no number: the trial configures it; left empty, the check does not run.
    mdt_start_days = models.PositiveSmallIntegerField(
        _("MDT to start within (days after randomization)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("Arm B: metastasis-directed therapy not started this many days after randomization opens a "
                    "data query (automatic check mdt_late). Empty: no such check."))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("follow-up settings")
        verbose_name_plural = _("follow-up settings")

    def __str__(self):
        return str(_("status unknown after %(days)s days") % {"days": self.status_unknown_days})
