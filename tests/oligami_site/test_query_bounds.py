"""Every list page runs the same queries for a few patients and for many, later pages included (no N+1).

The companion of bench/ (docs/performance.md): the benchmarks measure time at 10,000 patients; the tests
only keep query counts bounded (no timing is ever asserted here).
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registration.views import WORKLIST_PAGE_SIZE
from tests.registration.factories import bulk_patients, make_plans

pytestmark = pytest.mark.django_db

MAX_QUERIES = 17  # session, user, groups, memberships, sites, count, page, prefetch (+ a few per page: the
# worklist adds its randomized, re-consent and safety-deadline tables, issues 15, 17, 18, and reads its page's
# rows apart from the keys it sorts and counts, issue 21)
PAGES = [
    ("home", ""), ("home", "?page=2"),
    ("screening:patient_list", ""), ("screening:patient_list", "?page=2"),
    ("screening:log", ""), ("screening:log", "?page=2"),
    # (no balance: site staff see no arm counts, issue 13; its bounds are in tests/randomization/test_pages.py)
    ("oversight:reports", ""),
    ("oversight:not_randomized", ""), ("oversight:not_randomized", "?page=2"),
    ("followup:curves", ""), ("followup:surveys", ""),
]


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries), response


def test_list_pages_run_the_same_queries_for_10_and_130_patients(client, site_a, site_b, coordinator_a,
                                                                 django_assert_max_num_queries):
    today = timezone.localdate()
    plan = make_plans()["luminal"]
    bulk_patients(site_a, 10, plan=plan, user=coordinator_a, today=today)
    bulk_patients(site_b, 5, plan=plan, user=coordinator_a, today=today, start=1)  # another site: never counted
    client.force_login(coordinator_a)
    urls = [reverse(name) + query for name, query in PAGES]
    few = {url: _count(client, url)[0] for url in urls}
    bulk_patients(site_a, 120, plan=plan, user=coordinator_a, today=today, start=11)
    for url in urls:
        with django_assert_max_num_queries(MAX_QUERIES):
            many, _response = _count(client, url)
        assert many == few[url], (url, few[url], many)


def test_the_worklist_shows_a_page_of_rows_and_counts_every_status(client, site_a, coordinator_a):
    today = timezone.localdate()
    bulk_patients(site_a, 130, plan=make_plans()["luminal"], user=coordinator_a, today=today)
    client.force_login(coordinator_a)
    pages = [client.get(reverse("home") + f"?page={n}").content.decode() for n in (1, 2, 3)]
    rows = [html.count('class="btn btn-sm btn-outline-primary"') for html in pages]
    assert rows == [WORKLIST_PAGE_SIZE, WORKLIST_PAGE_SIZE, 130 - 2 * WORKLIST_PAGE_SIZE]
    counts = [int(n) for n in re.findall(r'status-badge status-\w+">[^<:]+: (\d+)</span>', pages[0])]
    assert sum(counts) == 130  # the summary counts every patient needing action, not only the page's
    numbers = [re.findall(r">(SITEA-B\d+)<", html) for html in pages]
    assert len({n for page in numbers for n in page}) == 130  # each patient on exactly one page
