"""Allocation concealment by role (issue 13): the allocation internals are the statistician's only.

With the preferred arm, the uniform draw and the counts before each allocation, the next allocation was
predictable (the preferred arm was the allocated arm in 78% of 712 allocations), and a coordinator who saw
her site's arm counts guessed "the arm with fewer at my site" right 64.5% of the time. DESIGN.md: allocation
internals (preferred arm, the random number, counts before an allocation, the minimization's tallies and the
set-up's parameters) and balance by site or factor are for the statistician; data managers see totals by arm;
site users see no arm counts (only their own patient's arm, which they treat).

The scan: the authorization matrix's scene (a randomized patient at site A and one at site B), whose
allocations, tallies and set-up are then given internals with unmistakable values. For every role, every GET
page of the URLconf (kwargs filled with the scene's objects, both sites' patients, every export table, the
data manager's export job of the allocations, the trial-wide audit search with results), and every admin
index, app, changelist, change, history and historical-version page of every registered model, then the
e-mails. Each 200 body is searched for the
internals' field names and labels (English and Japanese) and their values. 0 outside the statistician; the
statistician's must find them (the scan can fail).
"""

import datetime as dt
import io
import os
import re
from collections import defaultdict

import pytest
from django.contrib import admin
from django.core import mail
from django.core.management import call_command
from django.urls import NoReverseMatch, get_resolver, reverse
from django.utils import timezone, translation

from oversight import export_jobs
from oversight.exports import TABLES
from randomization import services
from randomization.models import Allocation, AllocationTally, RandomizationConfig
from tests.factories import UserFactory
from tests.oligami_site import test_authorization_matrix as matrix

pytestmark = pytest.mark.django_db

scene = matrix.scene  # the matrix's scene fixture (pytest finds it under this name)

ROLES = ("coordinator", "investigator", "monitor", "coordinator_other_site", "data_manager", "statistician",
         "superuser")

# Unmistakable values of the internals (no page has a reason to show these digits otherwise).
U = 0.7318264
P = 0.8173
WEIGHT = 2.375
COUNTS_BEFORE = {"subtype": {"luminal": {"A": 4871, "B": 4872}}}
IMBALANCE = {"A": 59.125, "B": 61.375}
TALLY = 6389
VALUES = ("0.7318264", "0.8173", "2.375", "4871", "4872", "59.125", "61.375", "6389")

ALLOCATION_INTERNALS = ("counts_before", "weights", "imbalance", "preferred", "p", "u")
CONFIG_INTERNALS = ("weights", "p", "block_sizes", "slots_per_stratum")
# Field names and English labels as a page or CSV header would write them ("p" and "u" alone are too short
# to search for: their values are searched instead).
NAMES = ("counts_before", "counts before", "preferred arm", '"preferred"', "uniform draw", "imbalance",
         "factor weights", "block sizes", "block_sizes", "slots per stratum", "slots_per_stratum",
         "allocationtally")


def needles() -> tuple[str, ...]:
    """NAMES, VALUES and the Japanese labels of every internal field (a Japanese reader's pages)."""
    labels = set()
    with translation.override("ja"):
        for model, fields in ((Allocation, ALLOCATION_INTERNALS), (RandomizationConfig, CONFIG_INTERNALS)):
            for name in fields:
                label = str(model._meta.get_field(name).verbose_name)
                if len(label) > 1 and not label.isascii():
                    labels.add(label)
    return (*NAMES, *VALUES, *sorted(labels))


def give_distinctive_internals():
    """The scene's allocations, their history rows, the tallies and the set-up get the values above."""
    allocation_values = {"u": U, "p": P, "preferred": "B", "counts_before": COUNTS_BEFORE, "imbalance": IMBALANCE,
                         "weights": {"site": WEIGHT, "subtype": WEIGHT, "lesions": WEIGHT}}
    Allocation.objects.update(**allocation_values)  # test data only: the scene's rows, not a service write
    Allocation.history.model.objects.update(**allocation_values)
    AllocationTally.objects.update(count=TALLY)
    config_values = {"p": P, "weights": {"site": WEIGHT, "subtype": WEIGHT, "lesions": WEIGHT}}
    RandomizationConfig.objects.update(**config_values)
    history = RandomizationConfig.history.model.objects
    # A second version of the set-up, so the admin's history list shows a change (its "p: 0.8 -> 0.8173").
    first = history.order_by("history_id").first()
    first.history_id = None
    first.history_change_reason = "SAP v1.1"
    first.save()
    history.exclude(pk=first.pk).update(p=0.8)
    history.filter(pk=first.pk).update(**config_values)


def site_pages(scene, role, allocations_job) -> list[str]:
    """Every GET URL of the URLconf outside the admin, with the scene's objects (both sites' patients)."""
    urls = []
    values = {**scene, "export_job": allocations_job}
    for route, name in matrix.walk(get_resolver().url_patterns):
        if name in ("admin:index", "logout", "set_language", "set_user_language"):
            continue
        has_object = bool(matrix.OBJECT_ARGUMENTS & set(re.findall(r"<(?:\w+:)?(\w+)>", route)))
        for target in ("A", "B") if has_object else ("A",):
            kwargs = matrix.arguments(name, route, values, target)
            if "table" in kwargs:
                urls += [reverse(name, kwargs={**kwargs, "table": key}) for key in TABLES]
            else:
                urls.append(reverse(name, kwargs=kwargs))
            if name == "oversight:audit_search":  # with results: the allocations' history rows, and every row
                urls += [f"{urls[-1]}?record=allocation", f"{urls[-1]}?user="]
    return list(dict.fromkeys(urls))


def admin_pages() -> list[str]:
    """The admin's index, app pages, and every registered model's changelist, and change, history and
    historical-version pages of its first and latest rows."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        urls.append(reverse(f"{prefix}_changelist"))
        for obj in {model._default_manager.order_by("pk").first(), model._default_manager.order_by("pk").last()}:
            if obj is None:
                continue
            urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
            urls.append(reverse(f"{prefix}_history", args=[obj.pk]))
            history = getattr(model, "history", None)
            if history is None:
                continue
            for record in history.filter(**{opts.pk.attname: obj.pk}):
                try:
                    urls.append(reverse(f"{prefix}_simple_history", args=[obj.pk, record.history_id]))
                except NoReverseMatch:
                    break
    return list(dict.fromkeys(urls))


def scan(text: str, found: list, page: str, marks: tuple[str, ...]):
    lowered = text.lower()
    found.extend((page, mark) for mark in marks if mark.lower() in lowered)


FIGURES: dict[str, dict] = {}


def run_scan(client, scene, settings, tmp_path):
    give_distinctive_internals()
    users = dict(scene["users"])
    users["superuser"] = UserFactory(username="root", is_staff=True, is_superuser=True)
    data_manager = users["data_manager"]
    settings.EXPORT_DIR = tmp_path
    allocations_job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="allocations").pk).pk
    analysis_job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="analysis").pk).pk
    marks = needles()
    client.raise_request_exception = False
    found, scanned = defaultdict(list), defaultdict(int)
    for role in ROLES:
        client.force_login(users[role])
        pages = site_pages(scene, role, allocations_job) + admin_pages()
        if role == "data_manager":
            pages.append(reverse("oversight:export_job_download", args=[analysis_job]))
        for url in pages:
            response = client.get(url)
            if response.status_code != 200:
                continue
            scanned[role] += 1
            scan(matrix.body(response), found[role], url, marks)
        client.logout()
    # The e-mails: each allocation's result (to its site's staff) and the day's reminder digests.
    for record in Allocation.objects.all():
        services.send_result_email(record.pk)
    call_command("send_reminders", stdout=io.StringIO())
    call_command("send_reminders", date=(timezone.localdate() + dt.timedelta(days=90)).isoformat(),
                 stdout=io.StringIO())
    for message in mail.outbox:
        scanned["e-mail"] += 1
        texts = [message.subject, message.body, *(content for content, _type in message.alternatives)]
        scan("\n".join(texts), found["e-mail"], f"mail to {message.to}", marks)
    return found, scanned


def test_no_page_export_or_admin_view_shows_allocation_internals_except_to_the_statistician(
        client, scene, settings, tmp_path):
    found, scanned = run_scan(client, scene, settings, tmp_path)
    FIGURES.update({role: {"pages": scanned[role], "found": len(found[role])} for role in (*ROLES, "e-mail")})
    if os.environ.get("CONCEALMENT_PRINT"):
        for role, figures in FIGURES.items():
            print(f"{role}: {figures['pages']} pages scanned, {figures['found']} internals found")
            for page, mark in found[role][:40]:
                print(f"    {page}: {mark!r}")
    assert all(scanned[role] >= 20 for role in ROLES) and scanned["e-mail"] >= 2, dict(scanned)
    leaks = {role: found[role] for role in (*ROLES, "e-mail") if role != "statistician" and found[role]}
    assert not leaks, "allocation internals shown outside the statistician:\n" + "\n".join(
        f"{role}: {page} shows {mark!r}" for role, hits in leaks.items() for page, mark in hits)
    # The scan can fail: the statistician's own views show the values it looks for.
    statistician_pages = {page for page, _mark in found["statistician"]}
    statistician_marks = {mark for _page, mark in found["statistician"]}
    assert reverse("randomization:allocations_csv") in statistician_pages
    assert {"0.7318264", "4871", "59.125", "preferred arm", "uniform draw"} <= statistician_marks
    assert any(page.startswith("/admin/randomization/allocation/") for page in statistician_pages)
