"""Two-step registration: therapy plans, primary and secondary registration, response evaluation,
and off study (signed through the core's e-signatures, oligami_site.signatures).

Writes go through registration/services.py only; nothing here has logic in save(), managers or signals.
Every foreign key is PROTECT and no clinical record is ever deleted (the admin forbids it too).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from oligami_site import auditing
from oligami_site.models import Signature  # the core's e-signature (oligami_site.signatures)
from screening import eligibility as rules
from screening.models import ECOG_CHOICES, LabPanel, Patient, Screening

SUBTYPE_CHOICES = [
    (rules.LUMINAL, _("luminal")),
    (rules.HER2, _("HER2-positive")),
    (rules.TNBC, _("triple-negative")),
]


class TherapyPlan(models.Model):
    """One version of the systemic therapy plan of one regimen of a subtype (trial configuration, data centre).

    A subtype may allow several regimens (issue 16): one plan per regimen, told apart by `name` (empty while
    the subtype has one regimen, as every plan made before), each regimen with its own versions. Versions
    are never rewritten: editing a plan in the admin saves a new version of its regimen (services.
    save_therapy_plan), and a primary registration points at the version in force on its date of the
    regimen chosen for the patient, so a registered patient's plan can never change under them.
    """

    subtype = models.CharField(_("subtype"), max_length=8, choices=SUBTYPE_CHOICES)
    name = models.CharField(_("regimen name"), max_length=80, blank=True, default="",
                            help_text=_("Short name of the regimen when the subtype allows several (one plan per "
                                        "regimen, each with its versions); empty while the subtype has one."))
    version = models.PositiveIntegerField(_("version"), editable=False)
    regimen = models.TextField(_("regimen"), help_text=_("The systemic therapy as the protocol describes it."))
    # Japanese pages show the regimen in Japanese (issue 20), as sites have a Japanese name; empty: the text above.
    regimen_ja = models.TextField(_("regimen (Japanese)"), blank=True, default="",
                                  help_text=_("Shown on Japanese pages and certificates; left empty, the regimen "
                                              "above is shown."))
    planned_courses = models.PositiveSmallIntegerField(
        _("planned courses"), validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Courses to be given before the response evaluation (S1)."))
    cycle_length_days = models.PositiveSmallIntegerField(
        _("cycle length (days)"), validators=[MinValueValidator(1), MaxValueValidator(90)])
    effective_from = models.DateField(
        _("effective from"), help_text=_("Patients registered on or after this date get this version."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["subtype", "name", "-version"]
        constraints = [models.UniqueConstraint(fields=["subtype", "name", "version"],
                                               name="one_plan_version_per_regimen")]
        verbose_name = _("therapy plan")
        verbose_name_plural = _("therapy plans")

    def __str__(self):
        params = {"subtype": self.get_subtype_display(), "version": self.version, "name": self.name,
                  "courses": self.planned_courses, "days": self.cycle_length_days}
        if self.name:
            return _("%(subtype)s plan %(name)s v%(version)s: %(courses)s x %(days)s days") % params
        return _("%(subtype)s plan v%(version)s: %(courses)s x %(days)s days") % params

    @property
    def regimen_label(self) -> str:
        """The regimen as lists name it: its name, else (one regimen for the subtype) its description."""
        return self.name or self.regimen_text

    @property
    def regimen_text(self) -> str:
        """The regimen in the page's language (Japanese when given, else the regimen as entered)."""
        if self.regimen_ja and (get_language() or "").startswith("ja"):
            return self.regimen_ja
        return self.regimen

    @property
    def therapy_days(self) -> int:
        return self.planned_courses * self.cycle_length_days




class PrimaryRegistration(models.Model):
    NUMBER_PREFIX = "OLG-"

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="primary_registration",
                                   verbose_name=_("patient"))
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("screening"))
    sequence = models.PositiveIntegerField(unique=True, editable=False)
    number = models.CharField(_("registration number"), max_length=16, unique=True, editable=False)
    registration_date = models.DateField(_("registration date"))
    verdict = models.JSONField(_("verdict"), editable=False)
    engine_version = models.CharField(_("engine version"), max_length=80, editable=False)
    subtype = models.CharField(_("subtype"), max_length=8, choices=SUBTYPE_CHOICES, editable=False)
    plan = models.ForeignKey(TherapyPlan, on_delete=models.PROTECT, related_name="registrations",
                             verbose_name=_("therapy plan"))
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("signature"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("primary registration")
        verbose_name_plural = _("primary registrations")

    def __str__(self):
        return self.number


class ResponseEvaluation(models.Model):
    """The response evaluation after the planned courses (S1, S2, S5-S8), one per patient."""

    class Response(models.TextChoices):
        CR = "CR", _("CR (complete response)")
        PR = "PR", _("PR (partial response)")
        SD = "SD", _("SD (stable disease)")
        PD = "PD", _("PD (progressive disease)")
        NE = "NE", _("NE (not evaluable)")

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="response_evaluation",
                                   verbose_name=_("patient"))
    date = models.DateField(_("evaluation date"))
    overall_response = models.CharField(_("overall response"), max_length=2, choices=Response.choices)
    progression = models.BooleanField(_("progression"))
    new_distant_metastasis = models.BooleanField(_("new distant metastasis"))
    remaining_lesions = models.PositiveSmallIntegerField(
        _("oligometastases remaining and feasible for definitive local therapy"),
        validators=[MaxValueValidator(3)])
    # Typed by the site before issue 16; S1 is now derived from the recorded courses (registration.courses) and
    # nothing writes this any more: kept, read-only, for the evaluations recorded before (their history).
    courses_given = models.PositiveSmallIntegerField(_("systemic therapy courses given (typed, before issue 16)"),
                                                     validators=[MaxValueValidator(50)], null=True, blank=True,
                                                     editable=False)
    mdt_since_primary = models.BooleanField(_("metastasis-directed therapy since primary registration"))
    ecog = models.PositiveSmallIntegerField(_("ECOG performance status"), choices=ECOG_CHOICES)
    labs = models.ForeignKey(LabPanel, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("laboratory values"))
    # Voided by a data manager (a mistaken entry, issue 15): the row stays (and its history on the audit
    # trail) but counts for nothing: no status, window, reminder or secondary registration reads it
    # (selectors.current_evaluation). Recording the evaluation again fills this row anew and clears the flag.
    voided = models.BooleanField(_("voided"), default=False)
    void_reason = models.CharField(_("reason for voiding"), max_length=auditing.REASON_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("response evaluation")
        verbose_name_plural = _("response evaluations")

    def __str__(self):
        return f"{self.patient} evaluation {self.date}"

    def to_facts(self) -> rules.ResponseEvaluation:
        return rules.ResponseEvaluation(date=self.date, progression=self.progression,
                                        new_distant_metastasis=self.new_distant_metastasis,
                                        overall_response=self.overall_response)


class SecondaryRegistration(models.Model):
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="secondary_registration",
                                   verbose_name=_("patient"))
    primary = models.OneToOneField(PrimaryRegistration, on_delete=models.PROTECT, related_name="secondary",
                                   verbose_name=_("primary registration"))
    registration_date = models.DateField(_("registration date"))
    evaluation = models.ForeignKey(ResponseEvaluation, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("response evaluation"))
    verdict = models.JSONField(_("verdict"), editable=False)
    engine_version = models.CharField(_("engine version"), max_length=80, editable=False)
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("signature"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("secondary registration")
        verbose_name_plural = _("secondary registrations")

    def __str__(self):
        return f"{self.primary.number} secondary {self.registration_date}"


class OffStudy(models.Model):
    class Reason(models.TextChoices):
        WITHDRAWAL = "withdrawal", _("Withdrawal of consent")
        DEATH = "death", _("Death")
        PROGRESSION = "progression_before_secondary", _("Progression before secondary registration")
        OTHER = "other", _("Other")

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="off_study",
                                   verbose_name=_("patient"))
    date = models.DateField(_("off-study date"))
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    details = models.TextField(_("details"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("off study")
        verbose_name_plural = _("off study")

    def __str__(self):
        return f"{self.patient} off study {self.date}"


# --- Reminders (issue 7) ----------------------------------------------------------------------------
# Technical rows, not clinical data: not audited (no simple-history), written in bulk by
# registration/reminders.py. Who and when are columns of their own (created_at, claimed_at, sent_at; the
# recipients and message ids on the digest).

REMINDER_KIND_CHOICES = [
    ("labs_expiring", _("Labs expiring")),
    ("labs_last_day", _("Labs: last valid day")),
    ("evaluation_due_soon", _("Evaluation due soon")),
    ("evaluation_due", _("Evaluation due")),
    ("window_opening", _("Window opening")),
    ("window_closing_7", _("Window closes in 7 days")),
    ("window_closing_2", _("Window closes in 2 days")),
    ("window_missed", _("Window missed")),
    ("progression", _("Progression at response evaluation")),
]


class Audience(models.TextChoices):
    """Who a notice or a digest is for (windows.Recipient)."""

    SITE_STAFF = "site_staff", _("Site staff")
    DATA_MANAGERS = "data_managers", _("Data managers")


class Digest(models.Model):
    """One reminder e-mail digest: per site and day for the site staff, per day for the data managers.

    The unique constraints make "one digest per site per day" a database fact; the row is the lock that
    one sender claims (select_for_update(skip_locked=True)) and it records each recipient the e-mail
    backend accepted, so a retry after a partial failure sends only to the others.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    day = models.DateField(_("day"))
    audience = models.CharField(_("recipients"), max_length=16, choices=Audience.choices)
    site = models.ForeignKey("oligami_site.Site", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("site"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # {user id: {"email": ..., "language": ..., "message_id": ..., "at": ISO time}} of accepted messages
    deliveries = models.JSONField(_("deliveries"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-day", "audience", "site__code"]
        constraints = [
            models.UniqueConstraint(fields=["day", "site"], condition=models.Q(audience="site_staff"),
                                    name="one_site_digest_per_site_and_day"),
            models.UniqueConstraint(fields=["day"], condition=models.Q(audience="data_managers"),
                                    name="one_data_manager_digest_per_day"),
            models.CheckConstraint(condition=models.Q(audience="data_managers", site__isnull=True)
                                   | models.Q(audience="site_staff", site__isnull=False),
                                   name="digest_site_iff_site_staff"),
        ]
        verbose_name = _("reminder digest")
        verbose_name_plural = _("reminder digests")

    def __str__(self):
        return f"{self.day} {self.site.code if self.site_id else self.audience}"


class Notice(models.Model):
    """One reminder to one audience (the outbox): pending -> claimed -> sent, or back to pending / failed.

    Keyed by (patient, kind, due date, audience) with a unique constraint, so a scan run twice, two
    scans at once or a redelivered task can never create a second notice for the same reminder: the
    scan inserts and the database drops duplicates. A window-missed reminder is for the site staff and
    the data managers: one row each, so each digest's delivery is recorded on its own rows.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notices",
                                verbose_name=_("patient"))
    site = models.ForeignKey("oligami_site.Site", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("site"))
    kind = models.CharField(_("reminder"), max_length=24, choices=REMINDER_KIND_CHOICES)
    due_date = models.DateField(_("due date"))
    deadline = models.DateField(_("deadline"))
    audience = models.CharField(_("recipients"), max_length=16, choices=Audience.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    digest = models.ForeignKey(Digest, on_delete=models.PROTECT, null=True, blank=True, related_name="notices",
                               verbose_name=_("digest"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-due_date", "kind"]
        constraints = [models.UniqueConstraint(fields=["patient", "kind", "due_date", "audience"],
                                               name="one_notice_per_reminder")]
        indexes = [models.Index(fields=["status", "audience", "site"], name="notice_outbox"),
                   models.Index(fields=["due_date"], name="notice_due_date")]
        verbose_name = _("reminder notice")
        verbose_name_plural = _("reminder notices")

    def __str__(self):
        return f"{self.patient} {self.kind} {self.due_date}"


class ReminderRun(models.Model):
    """The reminder job of one day completed: scanned, and every digest handed to the e-mail backend.

    What the hourly catch-up task asks ("has today's scan run?"): a beat firing sent while the broker was
    down is lost (beat logs it and moves on), so the catch-up runs the day's job when this row is missing.
    Written once per day (the unique day); a later run of the same day (by hand, a redelivery) keeps it.
    """

    day = models.DateField(_("day"), unique=True)
    due = models.PositiveIntegerField(_("due"), default=0)
    created = models.PositiveIntegerField(_("new notices"), default=0)
    finished_at = models.DateTimeField(_("finished at"), auto_now_add=True)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("reminder run")
        verbose_name_plural = _("reminder runs")

    def __str__(self):
        return f"{self.day}"


class CalendarToken(models.Model):
    """The secret of a user's iCalendar feed URL (/calendar/<token>.ics): the token is the credential.

    Stored hashed, like a password (issue 13): only the SHA-256 of the token is kept, so a copy of the
    database or a backup opens no feed. The token itself (32 random bytes) is shown once, when it is made
    (registration.ical.issue_token). Revoked, never deleted; a user has at most one token in force (issuing
    a new one revokes the old), and ending one of the user's memberships revokes it (registration.signals).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_tokens",
                             verbose_name=_("user"))
    token_hash = models.CharField(_("token (SHA-256)"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d}{' (revoked)' if self.revoked_at else ''}"
