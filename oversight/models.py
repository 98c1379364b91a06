"""The roof's own records: data queries (問い合わせ) and their messages.

A query points at one patient and, optionally, one of her records (a key of the audit trail's record
types and the record's id) and one field of it. Every change goes through oversight/queries.py, with
the user and a reason on the history row, like every clinical record.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from oligami_site.models import Signature
from screening.models import Patient

from . import querystate


class DataQuery(models.Model):
    class Status(models.TextChoices):
        OPEN = querystate.Status.OPEN, pgettext_lazy("data query", "open")
        ANSWERED = querystate.Status.ANSWERED, pgettext_lazy("data query", "answered")
        REOPENED = querystate.Status.REOPENED, pgettext_lazy("data query", "re-opened")
        CLOSED = querystate.Status.CLOSED, pgettext_lazy("data query", "closed")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="data_queries",
                                verbose_name=_("patient"))
    record_type = models.CharField(_("record"), max_length=24, blank=True,
                                   help_text=_("Which kind of record of the patient; blank: the patient as a whole."))
    record_id = models.PositiveBigIntegerField(_("record id"), null=True, blank=True)
    field = models.CharField(_("field"), max_length=60, blank=True)
    text = models.TextField(_("question"), max_length=2000)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    # An automatic check's code (oversight/checks.py) and what it found, so that a daily re-run never
    # opens a second query for a finding that already has one that is not closed.
    rule = models.CharField(_("automatic check"), max_length=40, blank=True)
    finding = models.CharField(_("finding"), max_length=120, blank=True)
    # The values the check found (dates, numbers), so that its question is shown in the reader's
    # language (checks.describe) instead of the language of whoever was signed in when it ran.
    details = models.JSONField(_("details"), default=dict, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("opened by"))
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    # The day (Asia/Tokyo) the query last started waiting for the site: raised or re-opened. Ageing
    # and "overdue" count from it (querystate.is_overdue).
    waiting_since = models.DateField(_("waiting since"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("data query")
        verbose_name_plural = _("data queries")
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "patient"], name="dataquery_status_patient")]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "patient", "finding"], condition=~Q(rule="") & ~Q(status="closed"),
                name="one_unclosed_query_per_finding"),
            models.CheckConstraint(condition=Q(status__in=["open", "answered", "reopened", "closed"]),
                                   name="dataquery_status_valid"),
        ]

    def __str__(self):
        return self.number

    @property
    def number(self) -> str:
        """The query's name on pages, in reasons for change and in e-mails: Q-00012."""
        return f"Q-{self.pk:05d}" if self.pk else "Q-?"


class QueryMessage(models.Model):
    """One step of a query's conversation: the question, an answer, a closing or re-opening comment."""

    query = models.ForeignKey(DataQuery, on_delete=models.PROTECT, related_name="messages",
                              verbose_name=_("data query"))
    step = models.CharField(_("step"), max_length=8, choices=[
        (querystate.Step.OPEN, pgettext_lazy("data query", "opened")),
        (querystate.Step.ANSWER, pgettext_lazy("data query", "answered")),
        (querystate.Step.CLOSE, pgettext_lazy("data query", "closed")),
        (querystate.Step.REOPEN, pgettext_lazy("data query", "re-opened"))])
    text = models.TextField(_("text"), max_length=2000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("author"))
    at = models.DateTimeField(_("time"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("query message")
        verbose_name_plural = _("query messages")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.query.number} {self.step}"


class ExportJob(models.Model):
    """An export written to a file by a Celery worker (issue 21), for the data manager who asked for it.

    Not clinical data (the file is a copy of it): not audited. The file lives under settings.EXPORT_DIR,
    named by an unguessable token; only the requester downloads it, until ``expires_at``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Writing")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    kind = models.CharField(_("export"), max_length=40)
    token = models.CharField(_("token"), max_length=64, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveIntegerField(_("rows written"), default=0)
    total = models.PositiveIntegerField(_("rows in all"), null=True, blank=True)
    size = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="exportjob_requester")]
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")

    def __str__(self):
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.rows / self.total))


class Deviation(models.Model):
    """A protocol deviation (プロトコール逸脱): what happened, its impact, and what was done about it.

    Recorded by the site or the data centre (oversight/deviations.py), suggested from the data where a
    rule can see one (deviations.suggestions); closed by the data centre once the corrective and
    preventive actions are in place.
    """

    class Category(models.TextChoices):
        ELIGIBILITY = "eligibility", _("eligibility (a criterion not met at registration)")
        CONSENT = "consent", _("informed consent")
        SCHEDULE = "schedule", _("schedule or window (registration, evaluation, assessments)")
        TREATMENT = "treatment", _("protocol treatment (regimen, dose, metastasis-directed therapy)")
        SAFETY = "safety", _("safety reporting")
        DATA = "data", _("data or source documents")
        OTHER = "other", _("other")

    class Impact(models.TextChoices):
        NONE = "none", _("none")
        POSSIBLE = "possible", _("possible")
        YES = "yes", _("yes")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("deviation", "open")
        CLOSED = "closed", pgettext_lazy("deviation", "closed")

    site = models.ForeignKey("oligami_site.Site", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("site"))
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="deviations", verbose_name=_("patient"))
    date = models.DateField(_("date of the deviation"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    description = models.TextField(_("description"), max_length=2000)
    impact_safety = models.CharField(_("impact on patient safety"), max_length=8, choices=Impact.choices)
    impact_endpoint = models.CharField(_("impact on the primary endpoint"), max_length=8, choices=Impact.choices)
    corrective_action = models.TextField(_("corrective action"), max_length=2000, blank=True)
    preventive_action = models.TextField(_("preventive action"), max_length=2000, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    # Set when recorded from a suggestion (deviations.SUGGESTIONS): the rule and what it found, so the
    # same finding is not suggested again.
    rule = models.CharField(_("suggested by"), max_length=40, blank=True)
    finding = models.CharField(_("finding"), max_length=120, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("protocol deviation")
        verbose_name_plural = _("protocol deviations")
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "patient", "finding"], condition=~Q(rule=""),
                                    name="one_deviation_per_finding"),
        ]

    def __str__(self):
        return f"D-{self.pk:05d}" if self.pk else "D-?"


class Cutoff(models.Model):
    """A data cut-off (カットオフ日) declared by the data centre, and the lock of the data as of it (データ固定).

    Declared first: the pages list what blocks the lock (open queries, ...). Locked with the data manager's
    e-signature (password re-entered): the analysis data set as of the lock is stored with its SHA-256, so
    the analysed data can be shown unchanged later.
    """

    date = models.DateField(_("cut-off date"), unique=True)
    purpose = models.CharField(_("purpose"), max_length=200)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("declared by"))
    declared_at = models.DateTimeField(_("declared at"), default=timezone.now)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("locked by"))
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    # The lock's e-signature (oligami_site.signatures; a new row at every lock, the history keeps earlier ones).
    signature = models.ForeignKey(Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("signature"))
    # Locks signed before the core's signature rows (issue 14) recorded the printed name and the meaning's code
    # here; kept (their history too) and shown for those locks only. New locks leave them blank.
    signed_name = models.CharField(_("signed by (printed name)"), max_length=150, blank=True)
    signature_meaning = models.CharField(_("meaning of the signature"), max_length=24, blank=True)
    snapshot = models.BinaryField(_("analysis data set at the lock"), null=True, blank=True, editable=False)
    snapshot_sha256 = models.CharField(_("SHA-256 of the data set"), max_length=64, blank=True)
    snapshot_rows = models.PositiveIntegerField(_("rows in the data set"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["snapshot"])

    class Meta:
        verbose_name = _("data cut-off")
        verbose_name_plural = _("data cut-offs")
        ordering = ["-date"]

    def __str__(self):
        return self.date.isoformat()

    @property
    def locked(self) -> bool:
        return self.locked_at is not None
