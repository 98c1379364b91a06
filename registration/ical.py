"""Deadlines as an iCalendar feed: a per-user secret URL that calendar programs subscribe to.

The token in the URL is the credential (calendar programs cannot log in): 32 random bytes
(secrets.token_urlsafe), stored only as its SHA-256 (a high-entropy secret needs no slow hash: it cannot be
guessed from its hash) and shown once, revocable, one in force per user, revoked when one of the user's
memberships ends. The feed lists the upcoming deadlines of the
patients at the user's sites (oligami_site.access decides which), as all-day events that name patients
by screening or registration number only. Serialised to RFC 5545 by the `icalendar` library (CRLF line
ends, TEXT escaping, lines folded at 75 octets); the tests parse it back with the same library.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from oligami_site import access
from screening.models import Patient

from . import selectors, windows
from .models import CalendarToken

TOKEN_BYTES = 32


# --- tokens ---------------------------------------------------------------------------------------


def active_token(user) -> CalendarToken | None:
    return CalendarToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()


@transaction.atomic
def revoke_tokens(*, user) -> int:
    """Revoke the user's feed URL(s); calendars subscribed to them get 404 from now on."""
    now = timezone.now()
    tokens = list(CalendarToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    return len(tokens)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex (64 characters)."""
    return hashlib.sha256(str(token).encode("utf-8", errors="replace")).hexdigest()


@transaction.atomic
def issue_token(*, user) -> CalendarToken:
    """A new feed URL for the user; the previous one stops working.

    The returned row carries the token itself as ``.token`` (not stored): the one moment it can be shown.
    """
    revoke_tokens(user=user)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = CalendarToken.objects.create(user=user, token_hash=token_hash(token))
    row.token = token
    return row


def user_for_token(token: str):
    """The active user whose token in force this is, else None (unknown, revoked, inactive user, or a user
    with no site role left: the feed is site-scoped, and its sites are read again at every request)."""
    found = (CalendarToken.objects.select_related("user")
             .filter(token_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True).first())
    if found is None or not access.has_any_site_role(found.user):
        return None
    return found.user


def feed_url(token: str) -> str:
    """The feed URL of a token (the token itself, known only when it is issued)."""
    return settings.SITE_URL.rstrip("/") + reverse("calendar_feed", kwargs={"token": token})


def revoke_for_ended_membership(*, user_id: int) -> int:
    """A membership of the user ended (deactivated, deleted, moved to another site): revoke their feed.

    The feed covers all of the user's sites in one URL, so it is revoked whole; the user makes a new one for
    the sites they still have. (Sites are read again at every request too, so an ended membership's site
    leaves the feed even before this runs, e.g. after a bulk update that sends no signal.)
    """
    User = CalendarToken._meta.get_field("user").related_model
    user = User.objects.filter(pk=user_id).first()
    return revoke_tokens(user=user) if user is not None else 0


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    uid: str
    day: date
    summary: str
    description: str
    url: str


def _label(template: str, deadline: date) -> str:
    return gettext(template) % {"deadline": deadline.isoformat()}


def patient_dates(timeline: windows.PatientTimeline, today: date) -> list[tuple[str, date, str]]:
    """(kind, date, label template) of the deadlines worth a calendar entry, from today on.

    The next deadline (windows.next_deadline, also when overdue: it is what the site must act on), and
    while a secondary registration is possible the effective window's opening and close, the evaluation
    due date (none recorded yet) and the expiry of labs a pending registration could use.
    """
    status = windows.patient_status(timeline, today)
    found: dict[str, tuple[date, str]] = {}
    deadline = windows.next_deadline(timeline, today)
    if deadline is not None:
        found[str(deadline.kind)] = (deadline.date, deadline.kind.label)
    if status in windows.ACTIVE_STATUSES and timeline.window is not None and not timeline.window.is_empty:
        window = timeline.window
        found.setdefault("window_opens", (window.open, windows.ReminderKind.WINDOW_OPENING.label))
        found.setdefault(str(windows.DeadlineKind.WINDOW_CLOSES), (window.close,
                                                                 windows.DeadlineKind.WINDOW_CLOSES.label))
        due = timeline.evaluation_due_date
        if timeline.evaluation_date is None and due is not None:
            found.setdefault(str(windows.DeadlineKind.EVALUATION_DUE), (due,
                                                                      windows.DeadlineKind.EVALUATION_DUE.label))
    # The labs' last valid day is an event when the rules would remind about it on that day (labs a pending
    # registration could still use: windows' "labs" condition), not for any old panel.
    if status in windows.ACTIVE_STATUSES | {windows.Status.ELIGIBLE} and timeline.lab_date is not None:
        expiry = windows.lab_expiry(timeline.lab_date)
        labs_kinds = (windows.ReminderKind.LABS_EXPIRING, windows.ReminderKind.LABS_LAST_DAY)
        if any(r.kind in labs_kinds for r in windows.due_reminders(timeline, expiry)):
            found.setdefault(str(windows.DeadlineKind.LABS_EXPIRE), (expiry, windows.DeadlineKind.LABS_EXPIRE.label))
    next_kind = str(deadline.kind) if deadline else None
    return sorted((kind, day, template) for kind, (day, template) in found.items()
                  if day >= today or kind == next_kind)


def events_for(user, today: date) -> list[Event]:
    """The deadlines of the patients at the sites of the user's memberships, in the active language.

    Membership sites only, never "every site" of a trial-wide role: the token URL needs no login and no
    second factor, so it must not open the whole trial's deadline list to whoever holds a data
    manager's link.
    """
    site_ids = list(access.site_roles(user))
    queryset = Patient.objects.filter(stage__in=selectors.WORKLIST_STAGES, site_id__in=site_ids)
    domain = _domain()
    events = []
    for patient in selectors.patients_with_records(queryset.order_by("pk")):
        primary = selectors.related(patient, "primary_registration")
        number = primary.number if primary else patient.screening_number
        url = settings.SITE_URL.rstrip("/") + reverse("registration:patient", kwargs={"pk": patient.pk})
        for kind, day, template in patient_dates(selectors.timeline_of(patient), today):
            label = _label(template, day)
            where = f"{number} ({patient.screening_number}, {patient.site.code})"
            events.append(Event(uid=f"oligami-{patient.pk}-{kind}@{domain}", day=day, summary=f"{number}: {label}",
                                description=f"{where}\n{label}\n{url}", url=url))
    events.extend(extra_events(user, site_ids, today))
    events.sort(key=lambda e: (e.day, e.summary))
    return events


# --- events of the apps above (registered at start-up; registration imports none of them) -----------------

_sources: list[Callable] = []


def register_source(source: Callable) -> None:
    """`source(user, site_ids, today) -> list[Event]`: more deadlines for the feed (e.g. safety's expedited
    reports), of the patients at `site_ids` only. The app above registers it in its AppConfig.ready."""
    if source not in _sources:
        _sources.append(source)


def extra_events(user, site_ids: list[int], today: date) -> list[Event]:
    return [event for source in _sources for event in source(user, site_ids, today)]


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "oligami.invalid"


# --- RFC 5545, serialised by the icalendar library (issue 14: no hand-written escaping or folding) ------


def render_ics(events: list[Event], *, name: str, now: datetime) -> str:
    """The calendar as text: icalendar escapes TEXT values, folds lines at 75 octets (never inside a UTF-8
    character) and ends them with CRLF (RFC 5545 3.1, 3.3.11)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//OLIGAMI (JCOG2110)//site manager//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT6H")
    stamp = now.astimezone(UTC)
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.day)  # a date: VALUE=DATE, an all-day event
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("url", item.url)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def feed(user, *, today: date, now: datetime) -> str:
    """The user's feed, in the user's language."""
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        return render_ics(events_for(user, today), name=gettext("OLIGAMI deadlines"), now=now)
