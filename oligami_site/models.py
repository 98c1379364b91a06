"""Trial-wide core: users, participating sites and who works where in which role.

Core models import no trial app (see DESIGN.md: dependencies flow one way).
"""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from . import site_status


class UserHistory(HistoricalRecords):
    """The history of accounts: every change of a user's roles (groups, permissions, superuser and staff
    flags) with who, when and why (issue 13: "who made this person a statistician").

    - No password hash is copied into the history table (`excluded_fields`); a password set in the admin
      still leaves a row with its reason.
    - A login only moves `last_login` (Django saves it alone): no history row for it, logins are in
      AccessEvent.
    - Groups granted from the group's side (``group.user_set.add(user)``) are recorded on each user:
      simple-history records the forward side only and would fail on the group.
    """

    def post_save(self, instance, created, using=None, **kwargs):
        if not created and set(kwargs.get("update_fields") or ()) == {"last_login"}:
            return
        super().post_save(instance, created, using=using, **kwargs)

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        if action == "pre_clear":
            instance._oligami_cleared_user_ids = list(instance.user_set.values_list("pk", flat=True))
            return
        if action == "post_clear":
            pk_set = getattr(instance, "_oligami_cleared_user_ids", [])
        elif action not in ("post_add", "post_remove"):
            return
        for user in User.objects.filter(pk__in=pk_set or []):
            super().m2m_changed(user, action, attr, pk_set, False, **kwargs)


class User(AbstractUser):
    """Custom from the first migration so that later fields never need a painful swap."""

    class Language(models.TextChoices):
        JAPANESE = "ja", "日本語"
        ENGLISH = "en", "English"

    preferred_language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.JAPANESE,
        help_text=_("Language of the pages and e-mails for this user."),
    )
    history = UserHistory(m2m_fields=["groups", "user_permissions"], excluded_fields=["password", "last_login"])

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def printed_name(self):
        """The name a signature shows: full name when known, else the username."""
        return self.get_full_name() or self.username


class Status(models.TextChoices):
    """A site's status (codes: oligami_site.site_status.Status, which owns what each one allows)."""

    PENDING = site_status.Status.PENDING.value, pgettext_lazy("site status", "Pending approval")
    OPEN = site_status.Status.OPEN.value, pgettext_lazy("site status", "Open")
    CLOSED_TO_ACCRUAL = site_status.Status.CLOSED_TO_ACCRUAL.value, pgettext_lazy("site status", "Closed to accrual")
    CLOSED = site_status.Status.CLOSED.value, pgettext_lazy("site status", "Closed")


class Site(models.Model):
    """A participating institution (参加施設)."""

    Status = Status

    code = models.CharField(
        _("code"), max_length=12, unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9]{1,11}$", _("Use 2-12 capital letters or digits."))],
        help_text=_("Short code used in screening numbers, e.g. TMDU."),
    )
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    # What the site may do (the table is oligami_site.site_status); changed only by
    # oligami_site.sites.change_status, with a reason, in the audit history.
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING,
                              editable=False)
    # The approval record: all four must be on file before the site may open (oligami_site.sites).
    ethics_approval_date = models.DateField(_("ethics committee approval date"), null=True, blank=True,
                                            editable=False)
    approved_protocol_version = models.CharField(_("approved protocol version"), max_length=20, blank=True,
                                                 editable=False)
    head_permission_date = models.DateField(_("permission of the head of the institution"), null=True,
                                            blank=True, editable=False)
    start_date = models.DateField(_("start date"), null=True, blank=True, editable=False)
    # Trial configuration (issue 17): at most this many patients screened at the site (new patients; a
    # re-screening is the same patient). None: no cap. Set by the data centre through
    # oligami_site.enrolment.set_cap, or raised by granting a site's request, with a reason in the history.
    enrolment_cap = models.PositiveIntegerField(_("enrolment cap"), null=True, blank=True, editable=False,
                                                help_text=_("Patients screened at most; empty: no cap."))
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def name(self):
        """The name in the language of the current request."""
        return self.name_ja if (get_language() or "").startswith("ja") else self.name_en

    @property
    def approval(self) -> site_status.Approval:
        return site_status.Approval(
            ethics_approval_date=self.ethics_approval_date, approved_protocol_version=self.approved_protocol_version,
            head_permission_date=self.head_permission_date, start_date=self.start_date)

    def allows(self, action: str) -> bool:
        return site_status.allows(self.status, action)


class Membership(models.Model):
    """A user's role at one site. One role per user and site; deactivate rather than delete."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", _("Clinical research coordinator")
        INVESTIGATOR = "investigator", _("Site investigator")
        MONITOR = "monitor", _("Monitor")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("user"))
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("site"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="one_membership_per_user_and_site")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.site.code}: {self.get_role_display()}"

    def clean(self):
        # Separation of duties (issue 13): no signing site role beside a trial-wide role (oligami_site.duties).
        from .duties import RoleGrantRefused, check_membership

        super().clean()
        try:
            check_membership(self)
        except RoleGrantRefused as refused:
            raise ValidationError(refused.message, code=refused.code) from None


class EnrolmentRequest(models.Model):
    """A site at its enrolment cap asks the data centre for more patients (issue 17).

    Sent by the site's staff, decided by a data manager: granted (the cap is raised by `granted`, on the
    site's history too) or refused with a reason. Written only by oligami_site.enrolment, audited.
    """

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("enrolment request", "Waiting for the data centre")
        GRANTED = "granted", pgettext_lazy("enrolment request", "Granted")
        REFUSED = "refused", pgettext_lazy("enrolment request", "Refused")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="enrolment_requests",
                             verbose_name=_("site"))
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    message = models.CharField(_("message to the data centre"), max_length=500, blank=True)
    cap = models.PositiveIntegerField(_("cap when requested"))
    screened = models.PositiveIntegerField(_("patients screened when requested"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    granted = models.PositiveIntegerField(_("patients granted"), null=True, blank=True)
    decision_reason = models.CharField(_("reason of the decision"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["site"], condition=models.Q(status="pending"),
                                               name="one_pending_enrolment_request_per_site")]
        verbose_name = _("enrolment request")
        verbose_name_plural = _("enrolment requests")

    def __str__(self):
        return f"{self.site.code} {self.requested_at:%Y-%m-%d} {self.get_status_display()}"


class AccessEvent(models.Model):
    """Who logged in or out, who failed to, from where (ICH E6(R3) / Part 11 access records)."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGOUT = "logout", _("Logout")
        LOGIN_FAILED = "login_failed", _("Failed login")
        SIGNATURE_FAILED = "signature_failed", _("Failed signature")
        LOCKED_OUT = "locked_out", _("Locked out")
        UNLOCKED = "unlocked", _("Unlocked")

    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="access_events",
                             verbose_name=_("user"))
    username = models.CharField(_("username given"), max_length=150, blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("access event")
        verbose_name_plural = _("access events")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.username}"


class DataVersion(models.Model):
    """One row whose counter moves after every committed audited write (oligami_site.dataversion).

    Not clinical data and not audited itself: it only tells the reports' cache that what it computed
    may be out of date. Created by migration 0003; `dataversion.bump` recreates it if it is missing.
    """

    counter = models.BigIntegerField(_("counter"), default=0)

    class Meta:
        verbose_name = _("data version")
        verbose_name_plural = _("data version")

    def __str__(self):
        return str(self.counter)


class DataChange(models.Model):
    """A record written by the transaction whose commit moved the data version to `version`: which model and
    object, and the patient it belongs to when it has a `patient_id` (oligami_site.dataversion).

    Written with the version, in the bump's own transaction, so that a reader who sees a version sees its
    changes. Lets a cache patch what a few versions changed instead of recomputing (the reports' per-patient
    classification); old versions are deleted as the counter moves on. Not clinical data, not audited.
    """

    version = models.BigIntegerField(_("version"), db_index=True)
    model = models.CharField(_("model"), max_length=100)  # app_label.modelname; "*": too many records to list
    object_id = models.BigIntegerField(_("object"), null=True)
    patient_id = models.BigIntegerField(_("patient"), null=True)

    class Meta:
        verbose_name = _("data change")
        verbose_name_plural = _("data changes")

    def __str__(self):
        return f"{self.version} {self.model} {self.object_id}"


def signature_kinds():
    """The kinds of signature the apps declared (oligami_site.signatures.register): the `kind` choices.

    A callable, so that the core names no trial app and a new kind needs no migration of the core.
    """
    from .signatures import kind_choices

    return kind_choices()


class Signature(models.Model):
    """An electronic signature: who (re-entered password), printed name, when (UTC) and what it means.

    Written only by oligami_site.signatures.sign. `kind` is a code an app declared; `meaning` is a code too,
    shown in the reader's language (`meaning_text`); a meaning stored as text before codes (a text no
    migration recognised) is shown as stored. The tables keep the names they had under registration.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("signer"))
    printed_name = models.CharField(_("printed name"), max_length=300)
    signed_at = models.DateTimeField(_("signed at"))
    meaning = models.TextField(_("meaning"))
    kind = models.CharField(_("signs"), max_length=32, choices=signature_kinds)
    subject = models.CharField(_("signed record"), max_length=200,
                               help_text=_("The record signed, e.g. registration number and screening number."))
    history = HistoricalRecords(table_name="registration_historicalsignature")

    class Meta:
        db_table = "registration_signature"
        ordering = ["signed_at"]
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")

    def __str__(self):
        return f"{self.printed_name} {self.signed_at:%Y-%m-%d %H:%M} UTC: {self.subject}"

    @property
    def meaning_text(self) -> str:
        """The meaning in the active (the reader's) language."""
        from .signatures import meaning_text

        return meaning_text(self.meaning)


class SignatureFailure(models.Model):
    """A signature attempt refused for a wrong password, counted like a failed login.

    Kept as a row (not only a log line) so that the data centre can query it in the admin, it survives
    log rotation, and the service can refuse further attempts after too many recent failures.
    `patient_id` is the id of the screening.Patient whose record was being signed (none for a signature
    about no patient, e.g. a data lock): a plain id, not a foreign key, because the core names no trial app
    (patients are never deleted, so the id keeps pointing at her).
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("user"))
    attempted_at = models.DateTimeField(_("attempted at"))
    kind = models.CharField(_("signs"), max_length=32, choices=signature_kinds)
    patient_id = models.BigIntegerField(_("patient"), null=True, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    history = HistoricalRecords(table_name="registration_historicalsignaturefailure")

    class Meta:
        db_table = "registration_signaturefailure"
        ordering = ["-attempted_at"]
        indexes = [models.Index(fields=["user", "attempted_at"], name="sigfail_user_time")]
        verbose_name = _("signature failure")
        verbose_name_plural = _("signature failures")

    def __str__(self):
        return f"{self.user} {self.attempted_at:%Y-%m-%d %H:%M} UTC {self.kind}"
class Counter(models.Model):
    """The last number handed out in one numbering series (oligami_site.numbering), locked with
    select_for_update while a number is taken. Not clinical data and not audited: the numbers it hands out
    are audited on the rows that carry them (registration, patient, allocation)."""

    series = models.CharField(_("series"), max_length=60, primary_key=True)
    value = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("number counter")

    def __str__(self):
        return f"{self.series}={self.value}"
