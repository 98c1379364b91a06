"""Demo data of the core: the five institutions of the trial listing and their staff.

Idempotent: natural keys (site code, username) are looked up before anything is created, and a
password is set only when it does not already match, so a second run changes nothing.
"""

import datetime as dt
import itertools
import secrets
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from . import enrolment, sites
from .access import TrialRole
from .models import EnrolmentRequest, Membership, Site, User

# The institutions named in the public listing (listing.txt), in its order.
DEMO_SITES = [
    ("TMDU", "Tokyo Medical and Dental University", "東京医科歯科大学"),
    ("OKAYAMA", "Okayama University", "岡山大学"),
    ("HIROSHIMA", "Hiroshima University", "広島大学"),
    ("JFCR", "The Cancer Institute Hospital of JFCR", "がん研究会有明病院"),
    ("JUNTENDO", "Juntendo University", "順天堂大学"),
]
# The approval record the demo sites opened on (fictional dates before the demo's patients).
DEMO_APPROVAL = {"ethics_approval_date": dt.date(2025, 9, 1), "approved_protocol_version": "1.0",
                 "head_permission_date": dt.date(2025, 9, 20), "start_date": dt.date(2025, 10, 1)}
# A site still waiting for its approvals (issue 17): its staff exist, it screens nobody until it opens.
# Its ethics committee approval is on file; the head of the institution's permission and the start date
# are not, so the data centre's journey records them and opens it.
PENDING_SITE = ("KYOTO", "Kyoto University", "京都大学")
PENDING_APPROVAL = {"ethics_approval_date": dt.date(2026, 10, 15), "approved_protocol_version": "1.0"}
# The site closed to accrual once its patients are in (after the patients' demo): it keeps its patients'
# follow-up and reminders.
CLOSED_TO_ACCRUAL_SITE = "OKAYAMA"
# The site with an enrolment cap (issue 17), set at the number of patients it has screened: its coordinator
# has asked the data centre for more, and the request waits on the data manager's to-do.
CAPPED_SITE = "HIROSHIMA"
# The monitor is assigned to two sites only, so that the demo shows monitor scoping.
MONITOR_SITES = ["TMDU", "OKAYAMA"]


@contextmanager
def clock(day: dt.date, hour: int = 10):
    """Demo data of the past written as on `day` (issue 20: signature times matched no registration date).

    Inside, django.utils.timezone.now() (and so localdate(), auto_now_add, simple-history's history date,
    signature and allocation times) answers `day` at `hour`:00 Tokyo time, one second later at each call so
    that records keep their order. A day that would put the clock in the future leaves it alone. Used by the
    demo seeds only, single-threaded, before the server starts; never by the application.
    """
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(settings.TIME_ZONE))
    real = timezone.now
    if start >= real():
        yield
        return
    ticks = itertools.count()
    timezone.now = lambda: start + dt.timedelta(seconds=next(ticks))
    try:
        yield
    finally:
        timezone.now = real


def demo_password() -> tuple[str, bool]:
    """(password, generated): OLIGAMI_DEMO_PASSWORD, else one generated once and kept in var/."""
    if settings.OLIGAMI_DEMO_PASSWORD:
        return settings.OLIGAMI_DEMO_PASSWORD, False
    path = settings.VAR_DIR / "demo-password.txt"
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password, True


def _user(username, password, *, first_name, last_name, language="ja", email=None):
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first_name, "last_name": last_name, "preferred_language": language,
                  "email": email or f"{username}@example.org"},
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_core(password: str) -> list[tuple[str, str]]:
    """Create sites, site staff and trial-wide users; return (username, what they are) for printing."""
    logins = []
    for code, name_en, name_ja in DEMO_SITES:
        # The demo sites open on an approval record on file (a new site starts pending: sites.py).
        site, _ = Site.objects.get_or_create(code=code, defaults={
            "name_en": name_en, "name_ja": name_ja, "status": Site.Status.OPEN, **DEMO_APPROVAL})
        for prefix, role, first in (("crc", Membership.Role.COORDINATOR, "Coordinator"),
                                    ("pi", Membership.Role.INVESTIGATOR, "Investigator")):
            username = f"{prefix}_{code.lower()}"
            user = _user(username, password, first_name=first, last_name=code.title())
            Membership.objects.get_or_create(user=user, site=site, defaults={"role": role})
            logins.append((username, f"{role.label} @ {code}"))

    code, name_en, name_ja = PENDING_SITE
    site, _ = Site.objects.get_or_create(code=code, defaults={"name_en": name_en, "name_ja": name_ja,
                                                              "status": Site.Status.PENDING, **PENDING_APPROVAL})
    for prefix, role, first in (("crc", Membership.Role.COORDINATOR, "Coordinator"),
                                ("pi", Membership.Role.INVESTIGATOR, "Investigator")):
        username = f"{prefix}_{code.lower()}"
        user = _user(username, password, first_name=first, last_name=code.title())
        Membership.objects.get_or_create(user=user, site=site, defaults={"role": role})
        logins.append((username, f"{role.label} @ {code} (pending approval)"))

    dm = _user("dm", password, first_name="Data", last_name="Manager", language="en")
    dm.is_staff = True  # the admin console is the data manager's workplace
    dm.save(update_fields=["is_staff"])
    dm.groups.add(Group.objects.get(name=TrialRole.DATA_MANAGER))
    logins.append(("dm", "Data manager (all sites, admin console)"))

    stat = _user("stat", password, first_name="Trial", last_name="Statistician", language="en")
    stat.is_staff = True
    stat.save(update_fields=["is_staff"])
    stat.groups.add(Group.objects.get(name=TrialRole.STATISTICIAN))
    logins.append(("stat", "Statistician (randomization set-up, balance)"))

    monitor = _user("monitor", password, first_name="Trial", last_name="Monitor", language="en")
    for code in MONITOR_SITES:
        Membership.objects.get_or_create(user=monitor, site=Site.objects.get(code=code),
                                         defaults={"role": Membership.Role.MONITOR})
    logins.append(("monitor", f"Monitor (read-only) @ {', '.join(MONITOR_SITES)}"))
    return logins


def seed_site_statuses(*, stdout) -> None:
    """Close CLOSED_TO_ACCRUAL_SITE to accrual, through the service as the data manager (after the patients'
    demo: a site closed to accrual takes no new patient). Idempotent: only an open site is changed."""
    manager = User.objects.filter(username="dm").first()
    site = Site.objects.filter(code=CLOSED_TO_ACCRUAL_SITE).first()
    if manager is None or site is None or site.status != Site.Status.OPEN:
        return
    sites.change_status(site=site, status=Site.Status.CLOSED_TO_ACCRUAL, user=manager,
                        reason="Demo: the site's accrual target is met")
    stdout.write(f"Sites demo: {site.code} closed to accrual.")


def seed_enrolment_caps(*, stdout) -> None:
    """Give CAPPED_SITE an enrolment cap equal to the patients it has screened (after the patients' demo), and
    a request of its coordinator, through the services. Idempotent: a site that has a cap
    or a request already is left alone."""
    manager = User.objects.filter(username="dm").first()
    coordinator = User.objects.filter(username=f"crc_{CAPPED_SITE.lower()}").first()
    site = Site.objects.filter(code=CAPPED_SITE).first()
    if manager is None or coordinator is None or site is None or site.enrolment_cap is not None:
        return
    if EnrolmentRequest.objects.filter(site=site).exists():
        return
    count = enrolment.screened(site)
    site = enrolment.set_cap(site=site, cap=max(count, 1), user=manager, reason="Demo: the site's planned accrual")
    if count:
        enrolment.request_more(site=site, user=coordinator,
                               message="Two more eligible patients are expected this month.")
    stdout.write(f"Sites demo: {site.code} has an enrolment cap of {site.enrolment_cap} patients.")
