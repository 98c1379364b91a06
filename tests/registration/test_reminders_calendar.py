"""The deadlines feed: a per-user secret URL, RFC 5545 that `icalendar` parses, only the user's sites,
numbers only, revocable (issue 7)."""

import datetime as dt
import hashlib
import importlib
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from registration import ical, windows
from registration.models import CalendarToken
from tests.factories import MembershipFactory, SiteFactory
from tests.registration.reminder_helpers import DAY, P, eligible, evaluated, registered

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = P + 100 * DAY  # evaluated patients: window P+85 .. P+113; registered ones: evaluation overdue, close P+126


def on(day):
    return time_machine.travel(dt.datetime.combine(day, dt.time(9, 0), tzinfo=TOKYO), tick=False)


def fetch(url_or_token):
    token = url_or_token.rsplit("/", 1)[-1].removesuffix(".ics")
    with on(TODAY):
        return Client().get(f"/calendar/{token}.ics")


def events(response):
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content
    assert all(line.endswith(b"\r") for line in body.split(b"\n")[:-1])  # CRLF everywhere
    assert all(len(line) <= 76 for line in body.split(b"\n"))  # folded at 75 octets (+ CR)
    calendar = icalendar.Calendar.from_ical(body)
    return calendar, {str(e["UID"]): e for e in calendar.walk("VEVENT")}


@pytest.fixture
def two_sites(plans, site_a, site_b, coordinator_a, coordinator_b):
    a = evaluated(site_a, coordinator_a, patient__initials="ZQ")
    a2 = registered(site_a, coordinator_a)
    b = evaluated(site_b, coordinator_b, patient__initials="VY")
    return a, a2, b


def create_feed(client) -> str:
    """Press "create" and read the feed URL off the page it leads to (the one time it is shown)."""
    page = client.post("/calendar/", {"action": "create"}, follow=True).content.decode()
    found = re.search(r'value="(https?://[^"]+/calendar/[^"]+\.ics)"', page)
    assert found, "the new feed URL is shown on the page after creating it"
    return found.group(1)


def test_a_site_user_creates_a_feed_that_parses_and_shows_only_their_sites(client, two_sites, coordinator_a,
                                                                           settings):
    settings.SITE_URL = "https://oligami.example.org"
    a, a2, b = two_sites
    client.force_login(coordinator_a)
    assert client.get("/calendar/").status_code == 200
    url = create_feed(client)
    assert url.startswith("https://oligami.example.org/calendar/")

    calendar, by_uid = events(fetch(url))
    assert calendar["VERSION"] == "2.0" and by_uid
    text = "\n".join(f"{e['SUMMARY']} {e['DESCRIPTION']}" for e in by_uid.values())
    number_a, number_a2 = a.primary_registration.number, a2.primary_registration.number
    assert number_a in text and number_a2 in text
    assert b.primary_registration.number not in text and b.screening_number not in text and "SITEB" not in text
    assert "ZQ" not in text and a.birth_date.isoformat() not in text

    close_a = by_uid[f"oligami-{a.pk}-window_closes@oligami.example.org"]
    assert close_a["DTSTART"].dt == P + 113 * DAY and close_a["DTEND"].dt == P + 114 * DAY  # all-day
    assert not isinstance(close_a["DTSTART"].dt, dt.datetime)
    assert str(close_a["SUMMARY"]) == f"{number_a}: Secondary registration window closes on 2026-06-23"
    assert str(close_a["URL"]) == f"https://oligami.example.org/registration/patients/{a.pk}/"
    # Only upcoming dates, except the next deadline: a2's evaluation is overdue, its window closes at day 126.
    assert {e["DTSTART"].dt for e in by_uid.values()} >= {P + 113 * DAY, P + 126 * DAY}
    assert all(e["DTSTART"].dt >= TODAY for e in by_uid.values())


def test_revoked_unknown_and_replaced_tokens_get_404(client, two_sites, coordinator_a):
    client.force_login(coordinator_a)
    first = create_feed(client)
    assert fetch(first).status_code == 200
    second = create_feed(client)  # a new URL replaces the old one
    assert second != first and fetch(first).status_code == 404 and fetch(second).status_code == 200
    client.post("/calendar/", {"action": "revoke"})
    assert fetch(second).status_code == 404
    assert fetch("not-a-token").status_code == 404
    assert CalendarToken.objects.filter(user=coordinator_a).count() == 2  # revoked, never deleted
    assert "You have no feed address" in client.get("/calendar/").content.decode()


def test_a_deactivated_user_or_membership_loses_the_feed(client, two_sites, coordinator_a):
    token = ical.issue_token(user=coordinator_a).token
    coordinator_a.memberships.update(active=False)  # a bulk update sends no signal: the token stays in force,
    assert fetch(token).status_code == 404  # but a user with no site role left gets no feed
    coordinator_a.memberships.update(active=True)
    assert fetch(token).status_code == 200
    coordinator_a.is_active = False
    coordinator_a.save()
    assert fetch(token).status_code == 404


def test_a_monitor_sees_the_assigned_site_and_a_statistician_has_no_feed(client, two_sites, site_b, statistician):
    a, a2, b = two_sites
    monitor = MembershipFactory(site=site_b, role="monitor", user__username="mon_b").user
    _calendar, by_uid = events(fetch(ical.issue_token(user=monitor).token))
    text = " ".join(str(e["SUMMARY"]) for e in by_uid.values())
    assert b.primary_registration.number in text and a.primary_registration.number not in text
    client.force_login(statistician)
    assert client.get("/calendar/").status_code == 403


def test_the_feed_is_in_the_users_language(two_sites, coordinator_a):
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    _calendar, by_uid = events(fetch(ical.issue_token(user=coordinator_a).token))
    a = two_sites[0]
    summary = str(by_uid[f"oligami-{a.pk}-window_closes@127.0.0.1"]["SUMMARY"])
    with translation.override("ja"):
        expected = gettext(windows.DeadlineKind.WINDOW_CLOSES.label) % {"deadline": "2026-06-23"}
    assert summary == f"{a.primary_registration.number}: {expected}"


def test_eligible_patients_get_their_labs_expiry(plans, site_a, coordinator_a):
    patient = eligible(site_a, on=TODAY - 2 * DAY)  # labs drawn TODAY - 8: valid until TODAY + 6
    _calendar, by_uid = events(fetch(ical.issue_token(user=coordinator_a).token))
    assert [e["DTSTART"].dt for e in by_uid.values()] == [TODAY + 6 * DAY]
    assert patient.screening_number in str(next(iter(by_uid.values()))["SUMMARY"])


def test_text_escaping_and_folding_round_trip():
    event = ical.Event(uid="u@x", day=dt.date(2026, 4, 1), summary="OLG-0001: a; b, c \\ d " + "終了日" * 40,
                       description="line 1\nline 2", url="https://x/")
    body = ical.render_ics([event], name="N", now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC)).encode()
    assert all(len(line.rstrip(b"\r")) <= 75 for line in body.split(b"\n"))
    parsed = next(iter(icalendar.Calendar.from_ical(body).walk("VEVENT")))
    assert str(parsed["SUMMARY"]) == event.summary and str(parsed["DESCRIPTION"]) == event.description


# --- tokens stored hashed, shown once, revoked when a membership ends (issue 13) ------------------------------


def test_the_token_is_stored_hashed_and_shown_once(client, two_sites, coordinator_a):
    client.force_login(coordinator_a)
    url = create_feed(client)
    token = url.rsplit("/", 1)[-1].removesuffix(".ics")
    row = CalendarToken.objects.get(user=coordinator_a, revoked_at=None)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert not CalendarToken.objects.filter(token_hash=token).exists()
    assert len(token) >= 43  # 32 random bytes
    again = client.get("/calendar/").content.decode()
    assert token not in again and 'id="feed-in-force"' in again  # never shown again
    assert fetch(token).status_code == 200
    assert fetch(row.token_hash).status_code == 404  # the stored value opens nothing


def test_the_data_migration_hashes_the_tokens_in_force(two_sites, coordinator_a):
    from django.apps import apps as global_apps

    migration = importlib.import_module("registration.migrations.0006_calendar_token_hashed")
    old = "an-old-plain-token-from-before-the-migration"
    CalendarToken.objects.create(user=coordinator_a, token_hash=old)  # as the column held it before
    migration.hash_tokens(global_apps, None)
    assert CalendarToken.objects.get(user=coordinator_a).token_hash == hashlib.sha256(old.encode()).hexdigest()
    assert fetch(old).status_code == 200  # subscribed calendars keep working


@pytest.mark.parametrize("how", ["deactivated", "deleted", "moved"])
def test_ending_a_membership_revokes_the_users_feed(two_sites, coordinator_a, coordinator_b, site_b, how):
    from oligami_site.models import Membership

    token = ical.issue_token(user=coordinator_a).token
    other = ical.issue_token(user=coordinator_b).token
    MembershipFactory(user=coordinator_a, site=site_b, role="monitor")  # a second site: still a site role
    membership = Membership.objects.get(user=coordinator_a, site__code="SITEA")
    assert fetch(token).status_code == 200
    if how == "deactivated":
        membership.active = False
        membership.save()
    elif how == "deleted":
        membership.delete()
    else:
        membership.site = SiteFactory(code="SITEC")
        membership.save()
    assert fetch(token).status_code == 404
    assert CalendarToken.objects.get(user=coordinator_a).revoked_at is not None  # revoked, kept
    assert fetch(other).status_code == 200  # another user's feed is untouched


def test_changing_a_membership_without_ending_it_keeps_the_feed(two_sites, coordinator_a):
    token = ical.issue_token(user=coordinator_a).token
    membership = coordinator_a.memberships.get()
    membership.role = "investigator"
    membership.save()
    inactive = MembershipFactory(user=coordinator_a, role="monitor", active=False)  # made inactive: ends nothing
    inactive.save()
    assert fetch(token).status_code == 200
