"""Safety (protocol/SAFETY.md): the trial's safety configuration, adverse events, expedited reports and the
deadline alerts that escalate them.

Writes go through safety/services.py only; nothing here has logic in save(), managers or signals. Every
foreign key is PROTECT and no clinical record is ever deleted. The rules (R0-R4) and the deadline
arithmetic are safety/reportability.py's; the rows below store what the services decided with them, so
that a page, the worklist, the calendar and the escalation read one answer.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from followup.models import Death
from oligami_site.models import Signature
from screening.models import Patient

from . import reportability

CTCAE_DEFAULT_VERSION = "5.0"  # SAFETY.md: "CTCAE (version 5.0 unless the trial configuration says otherwise)"


class SafetySettings(models.Model):
    """The trial's safety configuration (one row): CTCAE version and the report deadlines (SAFETY.md,
    "Deadlines (defaults; trial configuration)"). Frozen once the first event has been judged with it
    (services.freeze_settings): a deadline already running must not move under the site's feet."""

    ctcae_version = models.CharField(_("CTCAE version"), max_length=10, default=CTCAE_DEFAULT_VERSION)
    first_report_hours = models.PositiveSmallIntegerField(
        _("first report within (hours)"), default=reportability.FIRST_REPORT_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)])
    second_report_days = models.PositiveSmallIntegerField(
        _("second report within (days)"), default=reportability.SECOND_REPORT_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(90)])
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("safety settings")
        verbose_name_plural = _("safety settings")

    def __str__(self):
        return str(_("CTCAE %(version)s; first report %(hours)s h, second report %(days)s days") % {
            "version": self.ctcae_version, "hours": self.first_report_hours, "days": self.second_report_days})


class Treatment(models.TextChoices):
    """What an expected event is expected of: the systemic regimen of a subtype, and arm B's local therapy."""

    SYSTEMIC_LUMINAL = "systemic_luminal", _("Systemic therapy (luminal)")
    SYSTEMIC_HER2 = "systemic_her2", _("Systemic therapy (HER2-positive)")
    SYSTEMIC_TNBC = "systemic_tnbc", _("Systemic therapy (triple-negative)")
    RADIOTHERAPY = "radiotherapy", _("Radiotherapy (arm B)")
    SURGERY = "surgery", _("Surgery (arm B)")
    ABLATION = "ablation", _("Other local ablation (arm B)")


class ExpectedEvent(models.Model):
    """One CTCAE term expected of one treatment (trial configuration, SAFETY.md "Expected")."""

    treatment = models.CharField(_("treatment"), max_length=20, choices=Treatment.choices)
    term = models.CharField(_("CTCAE term"), max_length=200)
    history = HistoricalRecords()

    class Meta:
        ordering = ["treatment", "term"]
        constraints = [models.UniqueConstraint(fields=["treatment", "term"], name="one_expected_term_per_treatment")]
        verbose_name = _("expected adverse event")
        verbose_name_plural = _("expected adverse events")

    def __str__(self):
        return f"{self.get_treatment_display()}: {self.term}"


class Causality(models.TextChoices):
    DEFINITE = reportability.Causality.DEFINITE.value, _("Definite")
    PROBABLE = reportability.Causality.PROBABLE.value, _("Probable")
    POSSIBLE = reportability.Causality.POSSIBLE.value, _("Possible")
    UNLIKELY = reportability.Causality.UNLIKELY.value, _("Unlikely")
    NOT_RELATED = reportability.Causality.NOT_RELATED.value, _("Not related")


class ActionTaken(models.TextChoices):
    NONE = "none", _("None")
    DOSE_REDUCED = "dose_reduced", _("Dose reduced")
    INTERRUPTED = "interrupted", _("Treatment interrupted")
    DISCONTINUED = "discontinued", _("Treatment discontinued")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class Outcome(models.TextChoices):
    RECOVERED = "recovered", _("Recovered")
    RECOVERING = "recovering", _("Recovering")
    NOT_RECOVERED = "not_recovered", _("Not recovered")
    SEQUELAE = "sequelae", _("Recovered with sequelae")
    FATAL = "fatal", _("Fatal")
    UNKNOWN = "unknown", _("Unknown")


class AdverseEvent(models.Model):
    """An adverse event of a patient from primary registration on, or the safety assessment of a death.

    A death is entered once, in follow-up (followup.Death); its safety assessment is an AdverseEvent with
    ``death`` set, grade 5, no onset date of its own (the date of death is read from the Death row).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events",
                                verbose_name=_("patient"))
    death = models.OneToOneField(Death, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="safety_assessment", verbose_name=_("death"))
    term = models.CharField(_("CTCAE term"), max_length=200)
    ctcae_version = models.CharField(_("CTCAE version"), max_length=10)
    grade = models.PositiveSmallIntegerField(_("grade"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    onset_date = models.DateField(_("onset date"), null=True, blank=True)
    resolution_date = models.DateField(_("resolution date"), null=True, blank=True)
    # Seriousness criteria (ICH E2A); hospitalization_24h is the one R3 reads (SAFETY.md).
    hospitalization_24h = models.BooleanField(
        _("hospitalization of 24 hours or more (or prolonged) for its treatment"), default=False)
    life_threatening = models.BooleanField(_("life-threatening"), default=False)
    disability = models.BooleanField(_("persistent or significant disability"), default=False)
    other_serious = models.BooleanField(_("other medically important event"), default=False)
    expected = models.BooleanField(_("expected"), help_text=_("From the trial's list of expected events for "
                                                              "the patient's treatment when it was recorded."))
    causality = models.CharField(_("causality with protocol treatment"), max_length=12, choices=Causality.choices)
    action_taken = models.CharField(_("action taken"), max_length=16, choices=ActionTaken.choices,
                                    default=ActionTaken.NONE)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.UNKNOWN)
    awareness = models.DateTimeField(_("site aware at"), help_text=_("When the site learned of the event."))
    # What services.assess decided with reportability.py when the event or its facts last changed.
    reportable = models.BooleanField(_("reportable at once"), default=False, editable=False)
    rule = models.CharField(_("rule"), max_length=4, editable=False)
    clock_start = models.DateTimeField(
        _("clock started at"), null=True, blank=True, editable=False,
        help_text=_("The awareness of the fact that made the event reportable (its own, or of a later change)."))
    first_report_due = models.DateTimeField(_("first report due"), null=True, blank=True, editable=False)
    second_report_due = models.DateTimeField(_("second report due"), null=True, blank=True, editable=False)
    # A later change of the patient's protocol treatment facts (a course or local therapy recorded or corrected)
    # that changed the decision: when it was recorded, and the rule before it (services.rejudge_after_...).
    rejudged_at = models.DateTimeField(
        _("re-judged at"), null=True, blank=True, editable=False,
        help_text=_("When a later change of the protocol treatment facts last changed this event's decision."))
    rejudged_from = models.CharField(_("rule before re-judging"), max_length=4, blank=True, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "-id"]
        indexes = [models.Index(fields=["reportable", "first_report_due"], name="ae_reportable_due"),
                   # The SAE log's order (newest first): a page of the log reads its rows off this index instead
                   # of sorting every event of the trial.
                   models.Index(fields=["created_at", "id"], name="ae_created")]
        constraints = [
            # A death's assessment takes its date from the Death row (one fact entered once); an AE has its own.
            models.CheckConstraint(condition=(Q(death__isnull=True, onset_date__isnull=False, grade__lte=4)
                                              | Q(death__isnull=False, onset_date__isnull=True, grade=5)),
                                   name="ae_onset_or_death"),
        ]
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")

    def __str__(self):
        return f"{self.patient} {self.term} G{self.grade}"

    @property
    def is_death(self) -> bool:
        return self.death_id is not None

    @property
    def event_date(self):
        """The onset date, or for a death the date of death (read from follow-up, never copied)."""
        return self.death.date if self.death_id else self.onset_date

    @property
    def serious(self) -> bool:
        return self.is_death or self.grade >= 4 or self.hospitalization_24h or self.life_threatening or \
            self.disability or self.other_serious


class ReportKind(models.TextChoices):
    FIRST = "first", _("First report")
    SECOND = "second", _("Second (detailed) report")
    FOLLOWUP = "followup", _("Follow-up report")


class ExpeditedReport(models.Model):
    """An expedited report of a reportable event, signed by the site investigator; the study office (data
    manager) acknowledges it with a comment. A report counts for its deadline from its signature."""

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="reports",
                                      verbose_name=_("adverse event"))
    kind = models.CharField(_("report"), max_length=10, choices=ReportKind.choices)
    number = models.PositiveSmallIntegerField(_("report no."), editable=False)
    narrative = models.TextField(_("narrative"))
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("signature"))
    signed_at = models.DateTimeField(_("signed at"))  # the signature's time, indexed for lists and reports
    due_at = models.DateTimeField(_("due"), null=True, blank=True,
                                  help_text=_("The deadline this report answered (none for a follow-up report)."))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", verbose_name=_("acknowledged by"))
    acknowledgement = models.TextField(_("study office comment"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["adverse_event", "number"]
        constraints = [
            models.UniqueConstraint(fields=["adverse_event", "number"], name="one_report_number_per_event"),
            # One first and one second report per event; follow-up reports as many as needed.
            models.UniqueConstraint(fields=["adverse_event", "kind"], condition=~Q(kind="followup"),
                                    name="one_first_and_second_report"),
        ]
        indexes = [models.Index(fields=["signed_at"], name="report_signed_at")]
        verbose_name = _("expedited report")
        verbose_name_plural = _("expedited reports")

    def __str__(self):
        return f"{self.adverse_event} {self.get_kind_display()} {self.number}"


class DeadlineAlert(models.Model):
    """An escalation sent at once: a report deadline 24 hours away or passed (SAFETY.md "Deadlines").

    The outbox of the immediate e-mail, not clinical data (not audited; bulk writes carry ``# audit-ok``).
    Unique per event, deadline and level, so a scan run twice or a task delivered twice sends once.
    """

    class Level(models.TextChoices):
        DUE_SOON = reportability.DeadlineState.DUE_SOON.value, _("Due within 24 hours")
        OVERDUE = reportability.DeadlineState.OVERDUE.value, _("Overdue")

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="alerts",
                                      verbose_name=_("adverse event"))
    report = models.CharField(_("report"), max_length=10, choices=ReportKind.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    recipients = models.TextField(_("recipients"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["adverse_event", "report", "level", "due_at"],
                                               name="one_alert_per_deadline_level")]
        verbose_name = _("deadline alert")
        verbose_name_plural = _("deadline alerts")

    def __str__(self):
        return f"{self.adverse_event} {self.report} {self.level}"
