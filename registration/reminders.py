"""Reminder e-mails: a daily scan fills an outbox of notices, and one digest per site and day sends them.

The rules (what is due when, to whom) are registration/windows.py's REMINDER_RULES; this module only
stores and delivers what ``windows.due_reminders`` returns.

- ``scan(today=...)``: every patient who can still get a reminder is loaded with all their records in a
  constant number of queries (selectors.patients_with_records), the reminders due are computed in
  Python, and the missing notices are inserted in one set-based statement that leans on the unique
  constraint (patient, kind, due date, audience): a scan run twice, or two at once, inserts each once.
- ``send_digests(today=...)``: per site (and once for the data managers) the digest row of the day is
  claimed with ``select_for_update(skip_locked=True)``, then the site's pending notices likewise, and
  both are marked "claimed" in that short transaction. The e-mails are sent after it, outside any
  transaction (no lock is held while talking to the mail server): one message per recipient, in the
  recipient's language, each recorded on the digest as soon as the backend accepted it. Only then are
  the notices marked sent. A delivery error puts them back to pending (failed after MAX_ATTEMPTS) with
  the error, and a retry sends only to the recipients who did not get the message yet.
- A digest sent for (site, day) is never sent again: notices that appear later that day wait for the
  next day's digest.
- A sender that dies between claim and mark leaves "claimed" rows; after CLAIM_TIMEOUT they are taken
  back. The only duplicate possible is then the one message whose acceptance was not yet recorded.

Writes here are to the outbox (Notice, Digest), not to clinical data: they are not audited, and the bulk
statements carry ``# audit-ok`` (tests/oligami_site/test_no_history_bypass.py).
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import connections, router, transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from oligami_site import mail
from oligami_site import sites as site_services
from oligami_site.access import TrialRole
from oligami_site.models import Membership, Site, User
from oligami_site.site_status import SiteAction
from screening.models import Patient

from . import selectors, windows
from .models import Audience, Digest, Notice, ReminderRun

log = logging.getLogger(__name__)

# Patients who can get a reminder: eligible (labs) and between the two registrations (evaluation,
# window). Everyone else gets nothing from windows.due_reminders; not loading them keeps the scan small.
REMINDER_STAGES = (Patient.Stage.ELIGIBLE, Patient.Stage.REGISTERED)
# The daily job's time (Asia/Tokyo); settings.CELERY_BEAT_SCHEDULE fires it then, and the hourly catch-up
# checks after it (tests/registration/test_reminders_catch_up.py keeps the two equal).
DAILY_AT = time(8, 0)
# A notice is given up (status failed, shown to data managers in the admin) after this many failed
# deliveries: the daily task's first run and its retries that day, and the next days' runs.
MAX_ATTEMPTS = 8
# A claim older than this is taken back: its sender died (a worker killed between claim and mark).
CLAIM_TIMEOUT = timedelta(minutes=15)
# Delivery errors: smtplib.SMTPException and socket errors are both OSError (so is a full disk for the
# file backend). Anything else (a template or database error) is a bug and propagates at once.
DELIVERY_ERRORS = (OSError,)
# How far back a due date can lie on the day it is returned: due = anchor - lead and the last send day
# is anchor + until, so due >= today - (lead + until). Bounds the "already stored?" read of the scan.
_DUE_SPAN = timedelta(days=max(rule.lead_days + rule.send_until_days for rule in windows.REMINDER_RULES))
_AUDIENCE = {windows.Recipient.SITE_STAFF: Audience.SITE_STAFF,
             windows.Recipient.DATA_MANAGERS: Audience.DATA_MANAGERS}
SITE_STAFF_ROLES = (Membership.Role.COORDINATOR, Membership.Role.INVESTIGATOR)


class DeliveryFailed(smtplib.SMTPException):
    """Some digests were not accepted by the e-mail backend; their notices are pending again (or failed).

    An SMTPException, so the daily task retries it (autoretry_for) like any SMTP error.
    """

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class ScanResult:
    today: date
    due: int  # notices due today (new or already stored)
    created: int  # of those, not stored before this scan
    notices: list[Notice] = field(default_factory=list, repr=False)  # the due notices (unsaved when new)


@dataclass
class SendResult:
    today: date
    sent: list[str] = field(default_factory=list)  # "TMDU: 3 notices to 2 recipients"
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # sites whose digest of the day was sent already


# --- scan -----------------------------------------------------------------------------------------


def due_notices(*, today: date) -> list[Notice]:
    """The notices the rules make due on ``today``, unsaved: two queries whatever the number of patients."""
    # Reminders go on at sites closed to accrual and stop at closed (and pending) sites (site_status).
    queryset = Patient.objects.filter(stage__in=REMINDER_STAGES,
                                      site__status__in=site_services.statuses_allowing(SiteAction.REMINDERS)).order_by("pk")
    notices = []
    for patient in selectors.patients_with_records(queryset):
        for reminder in windows.due_reminders(selectors.timeline_of(patient), today):
            for recipient in sorted(reminder.recipients):
                notices.append(Notice(patient=patient, site_id=patient.site_id, kind=reminder.kind,
                                      due_date=reminder.due_date, deadline=reminder.deadline,
                                      audience=_AUDIENCE[recipient]))
    return notices


def _key(notice: Notice) -> tuple:
    return notice.patient_id, str(notice.kind), notice.due_date, str(notice.audience)


def _stored_keys(today: date) -> set[tuple]:
    """Keys of the notices stored for due dates the rules can return today (one query)."""
    return set(Notice.objects.filter(due_date__gte=today - _DUE_SPAN, due_date__lte=today)
               .values_list("patient_id", "kind", "due_date", "audience"))


def _insert_new(notices: list[Notice]) -> int:
    """INSERT the notices, skipping any the unique constraint already holds, and return how many rows the
    database really inserted (ON CONFLICT DO NOTHING on PostgreSQL, INSERT OR IGNORE on SQLite).

    bulk_create(ignore_conflicts=True) does the same INSERT but does not say how many rows went in, and
    counting the list handed to it overstates "created" when a concurrent scan inserted some since
    _stored_keys (issue 21). The statement is the one bulk_create builds; its row count is the truth.
    """
    using = router.db_for_write(Notice)
    fields = [field for field in Notice._meta.concrete_fields if not field.primary_key]
    batch = connections[using].ops.bulk_batch_size(fields, notices) or len(notices)
    inserted = 0
    with connections[using].cursor() as cursor:  # audit-ok: outbox insert, not clinical data
        for start in range(0, len(notices), batch):
            query = InsertQuery(Notice, on_conflict=OnConflict.IGNORE)
            query.insert_values(fields, notices[start:start + batch])
            for sql, params in query.get_compiler(using=using).as_sql():
                cursor.execute(sql, params)
                inserted += max(cursor.rowcount, 0)
    return inserted


def scan(*, today: date) -> ScanResult:
    """Insert the notices due on ``today`` that are not stored yet. Idempotent; safe to run concurrently.

    Queries: patients (1), their screenings (1), stored keys (1), and one INSERT of the new notices
    (SQLite splits an INSERT at 999 parameters, i.e. 76 notices a statement; PostgreSQL sends one).
    ``created`` counts the rows this scan inserted: of two concurrent scans, each notice counts once.
    """
    due = due_notices(today=today)
    stored = _stored_keys(today)
    new = [notice for notice in due if _key(notice) not in stored]
    created = 0
    if new:
        with transaction.atomic():
            # The unique constraint drops a notice a concurrent scan inserted since _stored_keys. Rows go in
            # a fixed order (patient, rule, audience), so two concurrent scans wait on each other's first
            # row instead of deadlocking on two different ones.
            created = _insert_new(new)
    log.info("Reminder scan %s: %d due, %d new", today, len(due), created)
    return ScanResult(today=today, due=len(due), created=created, notices=due)


# --- the digest -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a digest: a reminder about one patient, by number only (never a name)."""

    number: str  # registration number when registered, else the screening number
    screening_number: str
    site_code: str
    kind: str
    text: str  # the rule's label in the recipient's language, placeholders filled
    deadline: date
    days_left: int
    url: str


def _patient_url(patient_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("registration:patient", kwargs={"pk": patient_id})


def digest_rows(notices: list[Notice], today: date) -> list[Row]:
    """Digest lines in the active language (call inside translation.override), nearest deadline first."""
    rows = []
    for notice in notices:
        patient = notice.patient
        primary = selectors.related(patient, "primary_registration")
        kind = windows.ReminderKind(notice.kind)
        days_left = windows.days_remaining(notice.deadline, today)
        rows.append(Row(
            number=primary.number if primary else patient.screening_number,
            screening_number=patient.screening_number,
            site_code=notice.site.code,
            kind=str(kind),
            text=gettext(kind.label) % {"deadline": notice.deadline.isoformat(), "days_left": days_left,
                                         **windows.LABEL_NUMBERS},
            deadline=notice.deadline,
            days_left=days_left,
            url=_patient_url(patient.pk),
        ))
    rows.sort(key=lambda r: (r.deadline, r.site_code, r.number, r.kind))
    return rows


def recipients(audience: str, site: Site | None) -> list[User]:
    """Site staff: the site's active coordinators and investigators; data managers: the group's users."""
    users = User.objects.filter(is_active=True).exclude(email="")
    if audience == Audience.DATA_MANAGERS:
        users = users.filter(groups__name=TrialRole.DATA_MANAGER)
    else:
        users = users.filter(memberships__site=site, memberships__active=True,
                             memberships__role__in=SITE_STAFF_ROLES)
    return list(users.distinct().order_by("username"))


def digest_sections(*, audience: str, site: Site | None, today: date) -> list[dict]:
    """Sections that apps above this one add to the digest (settings.OLIGAMI_DIGEST_SECTIONS: dotted paths
    of functions (audience, site, today) -> {"title", "lines", "more", "url"} or None). Named in the
    settings, the one place that wires apps together, so this app imports none of them."""
    sections = []
    for path in settings.OLIGAMI_DIGEST_SECTIONS:
        section = import_string(path)(audience=audience, site=site, today=today)
        if section:
            sections.append(section)
    return sections


def render_message(*, user: User, audience: str, site: Site | None, notices: list[Notice], today: date):
    """The digest e-mail for one recipient, text and HTML, in the recipient's language (the kit's renderer;
    the sections are computed in that language too)."""
    def context():
        return {
            "audience": audience,
            "data_managers": audience == Audience.DATA_MANAGERS,
            "site": site,
            "site_name": site.name if site else "",
            "today": today,
            "rows": digest_rows(notices, today),
            "sections": digest_sections(audience=audience, site=site, today=today),
            "site_url": settings.SITE_URL.rstrip("/"),
        }
    return mail.to_user(user, "registration/email/digest", context)


# --- sending ----------------------------------------------------------------------------------------


def _release_stale_claims(now) -> None:
    """Take back the claims of a sender that died (older than CLAIM_TIMEOUT)."""
    stale = now - CLAIM_TIMEOUT
    with transaction.atomic():
        Notice.objects.filter(status=Notice.Status.CLAIMED, claimed_at__lt=stale).update(  # audit-ok: outbox
            status=Notice.Status.PENDING, claimed_at=None, digest=None, last_error="claim expired")
        Digest.objects.filter(status=Digest.Status.CLAIMED, claimed_at__lt=stale).update(  # audit-ok: outbox
            status=Digest.Status.PENDING, claimed_at=None, last_error="claim expired")


def _pending_groups() -> list[tuple[str, int | None]]:
    """(audience, site id or None) of every digest that has pending notices, site staff first."""
    pending = Notice.objects.filter(status=Notice.Status.PENDING).order_by()  # no ordering: DISTINCT site ids
    groups = {(Audience.SITE_STAFF.value, site_id) for site_id in
              pending.filter(audience=Audience.SITE_STAFF).values_list("site_id", flat=True).distinct()}
    if pending.filter(audience=Audience.DATA_MANAGERS).exists():
        groups.add((Audience.DATA_MANAGERS.value, None))
    return sorted(groups, key=lambda g: (g[0] != Audience.SITE_STAFF, g[1] or 0))


def _notices_of(audience: str, site_id: int | None):
    queryset = Notice.objects.filter(audience=audience)
    return queryset.filter(site_id=site_id) if audience == Audience.SITE_STAFF else queryset


def _section_groups(today: date, taken: set[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """(audience, site id or None) of the digests that have no pending notice but a non-empty section of an
    app above (settings.OLIGAMI_DIGEST_SECTIONS: data queries waiting, assessments overdue...), and no digest
    sent today: without this a site with queries waiting but no window that day got no e-mail at all.
    One call per configured section and site: a few dozen small queries once a day."""
    if not settings.OLIGAMI_DIGEST_SECTIONS:
        return []
    sent = set(Digest.objects.filter(day=today, status=Digest.Status.SENT).values_list("audience", "site_id"))
    candidates = [(Audience.SITE_STAFF.value, site.pk, site) for site in Site.objects.order_by("code")
                  if site.allows(SiteAction.REMINDERS)]
    candidates.append((Audience.DATA_MANAGERS.value, None, None))
    groups = []
    for audience, site_id, site in candidates:
        if (audience, site_id) in taken or (audience, site_id) in sent:
            continue
        if digest_sections(audience=audience, site=site, today=today):
            groups.append((audience, site_id))
    return groups


def _claim(today: date, audience: str, site_id: int | None, now, *, sections_only: bool = False
           ) -> tuple[Digest, list[Notice]] | None:
    """Claim the day's digest and its pending notices, or None when another sender has them or it was sent.
    `sections_only`: a digest of the apps' sections alone is claimed without notices.

    Lock order: the digest row, then the notices (skip_locked on both): two senders never wait on each
    other, and never hold the same rows.
    """
    with transaction.atomic():
        digest = (Digest.objects.select_for_update(skip_locked=True)
                  .filter(day=today, audience=audience, site_id=site_id).order_by("pk").first())
        if digest is None:
            return None  # another sender holds it right now
        if digest.status == Digest.Status.SENT:
            return None  # one digest per site and day: these notices go out tomorrow
        if digest.status == Digest.Status.CLAIMED and digest.claimed_at >= now - CLAIM_TIMEOUT:
            return None
        notices = list(_notices_of(audience, site_id).select_for_update(skip_locked=True)
                       .filter(status=Notice.Status.PENDING).order_by("pk"))
        if not notices and not sections_only:
            return None
        _notices_of(audience, site_id).filter(pk__in=[n.pk for n in notices]).update(  # audit-ok: outbox
            status=Notice.Status.CLAIMED, claimed_at=now, digest=digest)
        digest.status, digest.claimed_at, digest.attempts = Digest.Status.CLAIMED, now, digest.attempts + 1
        digest.save(update_fields=["status", "claimed_at", "attempts"])
    return digest, notices


def _load(notice_ids: list[int]) -> list[Notice]:
    return list(Notice.objects.filter(pk__in=notice_ids)
                .select_related("site", "patient", "patient__primary_registration").order_by("pk"))


def _deliver(digest: Digest, notices: list[Notice], today: date, users: list[User]) -> int:
    """Send the digest to every recipient not served yet; each acceptance is recorded at once."""
    sent = 0
    for user in users:
        if str(user.pk) in digest.deliveries:
            continue  # accepted in an earlier attempt: never twice
        message = render_message(user=user, audience=digest.audience, site=digest.site, notices=notices,
                                 today=today)
        if get_connection().send_messages([message]) != 1:
            raise smtplib.SMTPException(f"the e-mail backend did not accept the message to {user.email}")
        digest.deliveries[str(user.pk)] = {"email": user.email, "language": user.preferred_language,
                                           "message_id": message.extra_headers["Message-ID"],
                                           "at": timezone.now().isoformat()}
        digest.save(update_fields=["deliveries"])
        sent += 1
    return sent


def _mark_sent(digest: Digest, notices: list[Notice]) -> None:
    now = timezone.now()
    with transaction.atomic():
        Notice.objects.filter(pk__in=[n.pk for n in notices]).update(  # audit-ok: outbox, not clinical data
            status=Notice.Status.SENT, sent_at=now, attempts=F("attempts") + 1, last_error="")
        digest.status, digest.sent_at, digest.last_error = Digest.Status.SENT, now, ""
        digest.save(update_fields=["status", "sent_at", "last_error"])


def _mark_failed(digest: Digest, notices: list[Notice], error: str, *, give_up: bool = False) -> None:
    """Back to pending with the error (failed once MAX_ATTEMPTS is reached, or at once with give_up)."""
    ids = [n.pk for n in notices]
    error = error[:2000]
    with transaction.atomic():
        claimed = Notice.objects.filter(pk__in=ids, status=Notice.Status.CLAIMED)
        limit = 1 if give_up else MAX_ATTEMPTS
        claimed.filter(attempts__gte=limit - 1).update(  # audit-ok: outbox, not clinical data
            status=Notice.Status.FAILED, attempts=F("attempts") + 1, last_error=error)
        retried = claimed.update(  # audit-ok: outbox, not clinical data (the rows still claimed after the line above)
            status=Notice.Status.PENDING, attempts=F("attempts") + 1, last_error=error, claimed_at=None, digest=None)
        # Pending again: a later run (the task's retry) may claim the digest again and serve the recipients
        # it has not reached yet. Failed: every notice of it was given up.
        # A digest of sections only has no notices to count attempts on: pending again unless given up.
        digest.status = Digest.Status.PENDING if retried or (not ids and not give_up) else Digest.Status.FAILED
        digest.claimed_at, digest.last_error = None, error
        digest.save(update_fields=["status", "claimed_at", "last_error"])


def _label(audience: str, site: Site | None) -> str:
    return site.code if site is not None else "data managers"


def send_digests(*, today: date) -> SendResult:
    """Send the day's digests of all pending notices. Raises DeliveryFailed after trying every digest when
    some were not accepted (their notices are pending again, or failed after MAX_ATTEMPTS)."""
    now = timezone.now()
    result = SendResult(today=today)
    _release_stale_claims(now)
    groups = _pending_groups()
    section_only = _section_groups(today, set(groups))
    groups = groups + section_only
    if not groups:
        return result
    # The digest rows of the day, created once: the unique constraints drop a concurrent sender's twin.
    Digest.objects.bulk_create([Digest(day=today, audience=audience, site_id=site_id)  # audit-ok: outbox
                                for audience, site_id in groups], ignore_conflicts=True)
    errors = []
    for audience, site_id in groups:
        claimed = _claim(today, audience, site_id, now, sections_only=(audience, site_id) in section_only)
        site = Site.objects.get(pk=site_id) if site_id else None
        if claimed is None:
            if Digest.objects.filter(day=today, audience=audience, site_id=site_id,
                                     status=Digest.Status.SENT).exists():
                result.waiting.append(_label(audience, site))
            continue
        digest, notices = claimed
        notices = _load([n.pk for n in notices])
        users = recipients(audience, site)
        if not users:
            what = "no active coordinator or investigator with an e-mail address" if site else \
                "no active data manager with an e-mail address"
            log.error("Reminder digest %s %s not sent: %s", today, _label(audience, site), what)
            _mark_failed(digest, notices, what, give_up=True)
            result.failed.append(f"{_label(audience, site)}: {what}")
            continue
        try:
            _deliver(digest, notices, today, users)
        except DELIVERY_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("Reminder digest %s %s not accepted: %s", today, _label(audience, site), error)
            _mark_failed(digest, notices, error)
            errors.append(f"{_label(audience, site)}: {error}")
            result.failed.append(errors[-1])
            continue
        _mark_sent(digest, notices)
        result.sent.append(f"{_label(audience, site)}: {len(notices)} notices to {len(users)} recipients")
    log.info("Reminder digests %s: sent %s; failed %s", today, result.sent, result.failed)
    if errors:
        raise DeliveryFailed(errors)
    return result


def run_daily(*, today: date) -> tuple[ScanResult, SendResult]:
    """The daily job (Celery beat, send_reminders): scan, then send the digests, then record the day as
    run (what catch_up checks). Idempotent. A DeliveryFailed leaves the day unrecorded: the task retries,
    and the next hourly catch-up runs the job again (sending only what is still pending)."""
    scanned = scan(today=today)
    sent = send_digests(today=today)
    record_run(scanned)
    return scanned, sent


def record_run(scanned: ScanResult) -> None:
    """Record that the job of ``scanned.today`` completed (the first completion of the day is kept)."""
    ReminderRun.objects.get_or_create(day=scanned.today, defaults={"due": scanned.due, "created": scanned.created})


def catch_up(*, now: datetime) -> tuple[ScanResult, SendResult] | None:
    """Run the day's job if its time has come and it has not completed yet; None when there is nothing to do.

    Beat fires the job at DAILY_AT; a firing sent while the broker is down is lost (beat logs the error and
    waits for the next day). Beat also sends this check every hour of the day after DAILY_AT
    (settings.CELERY_BEAT_SCHEDULE), so a lost firing runs at the first hourly check the broker carries.
    Before DAILY_AT it does nothing: that day's reminders are not due yet (the previous day's that were
    missed are still "sent until" their last day and go out with this day's scan, docs/reminders.md).
    """
    local = timezone.localtime(now)
    if local.time() < DAILY_AT or ReminderRun.objects.filter(day=local.date()).exists():
        return None
    log.warning("Reminder job of %s had not run by %s: catching up", local.date(), local.strftime("%H:%M"))
    return run_daily(today=local.date())


# --- dry run --------------------------------------------------------------------------------------


@dataclass
class PlannedDigest:
    audience: str
    site: Site | None
    notices: list[Notice]
    recipients: list[User]
    blocked: bool  # the digest of the day was sent already: these notices would wait for tomorrow


def plan(*, today: date) -> list[PlannedDigest]:
    """What run_daily would send on ``today``, writing nothing: stored pending notices plus the new ones."""
    due = due_notices(today=today)
    stored = _stored_keys(today)
    new = [notice for notice in due if _key(notice) not in stored]
    pending = list(Notice.objects.filter(status__in=[Notice.Status.PENDING, Notice.Status.CLAIMED])
                   .select_related("site", "patient", "patient__primary_registration"))
    sites = {site.pk: site for site in Site.objects.all()}
    for notice in new:  # the unsaved notices carry the patient (with its records) from the scan
        notice.site = sites[notice.site_id]
    groups: dict[tuple, list[Notice]] = defaultdict(list)
    for notice in [*pending, *new]:
        site_id = notice.site_id if notice.audience == Audience.SITE_STAFF else None
        groups[(str(notice.audience), site_id)].append(notice)
    sent = set(Digest.objects.filter(day=today, status=Digest.Status.SENT).values_list("audience", "site_id"))
    planned = []
    for (audience, site_id), notices in sorted(groups.items(), key=lambda g: (g[0][0] != Audience.SITE_STAFF,
                                                                           g[0][1] or 0)):
        site = sites.get(site_id)
        planned.append(PlannedDigest(audience=audience, site=site, notices=notices,
                                     recipients=recipients(audience, site), blocked=(audience, site_id) in sent))
    return planned
