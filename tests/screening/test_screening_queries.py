"""Query counts of the list pages do not grow with the number of patients (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from screening import eligibility as rules
from screening import verdicts
from screening.models import Screening
from tests.factories import PatientFactory, ScreeningFactory

pytestmark = pytest.mark.django_db
MAX_QUERIES = 12  # session, user, groups, memberships, sites, count, page (+ a few for the filters)


def populate(site, n):
    snap = verdicts.snapshot(rules.evaluate(rules.PrimaryFacts(lesions=[])))
    for _ in range(n):
        patient = PatientFactory(site=site, stage="screen_failed")
        # Lists and the log read the stored verdict only: no lesions or labs needed here.
        ScreeningFactory(patient=patient, outcome=Screening.Outcome.DRAFT, verdict=snap, subtype=None,
                         engine_version=rules.ENGINE_VERSION, labs=None, lesions=[])


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries)


def test_list_pages_use_the_same_queries_for_10_and_200_patients(client, site_a, coordinator_a,
                                                                 django_assert_max_num_queries):
    client.force_login(coordinator_a)
    urls = {name: reverse(f"screening:{name}") for name in ("patient_list", "log", "log_csv")}
    populate(site_a, 10)
    small = {name: count(client, url) for name, url in urls.items()}
    populate(site_a, 190)
    for name, url in urls.items():
        with django_assert_max_num_queries(MAX_QUERIES):
            large = count(client, url)
        assert large == small[name], (name, small[name], large)
        print(f"{name}: {small[name]} queries with 10 patients, {large} with 200")  # noqa: T201 (shown with -s)


def test_the_data_managers_log_of_200_patients_is_bounded(client, site_a, site_b, data_manager,
                                                          django_assert_max_num_queries):
    populate(site_a, 60)
    populate(site_b, 60)
    client.force_login(data_manager)
    with django_assert_max_num_queries(MAX_QUERIES):
        page = client.get(reverse("screening:log")).content.decode()
    assert page.count('class="log-row"') == 100  # one page
