"""The screening log (GCP) and its CSV export: scoped to the user's sites, filtered, failures listed."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from oligami_site.csvfiles import cell as _cell
from screening import services
from tests.factories import MembershipFactory
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db


def screen(site, user, change=None):
    patient = services.create_patient(site=site, sex="female", birth_date=dt.date(1968, 7, 15), user=user)
    data, lesions, labs = eligible_inputs()
    if change:
        change(data, lesions, labs)
    return services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user)


@pytest.fixture
def screenings(site_a, site_b, coordinator_a, coordinator_b):
    return {
        "eligible": screen(site_a, coordinator_a),
        "labs": screen(site_a, coordinator_a, lambda d, les, lab: lab.update(platelets=Decimal("85000"))),
        "e7": screen(site_a, coordinator_a, lambda d, les, lab: d.update(e7=True)),
        "draft": screen(site_a, coordinator_a, lambda d, les, lab: d.update(e13=None)),
        "b": screen(site_b, coordinator_b, lambda d, les, lab: d.update(ecog=3)),
    }


def export(client, **params):
    response = client.get(reverse("screening:log_csv"), params)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_log_lists_every_screening_of_the_site_with_failed_ids_and_reasons(client, coordinator_a, screenings):
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:log")).content.decode()
    for number in ("SITEA-S0001", "SITEA-S0002", "SITEA-S0003", "SITEA-S0004"):
        assert number in page
    assert "SITEB" not in page
    assert "<strong>P16</strong>" in page and "platelets 85000" in page
    assert "<strong>E7</strong>" in page and "exclusion applies" in page
    assert "<strong>E13</strong>" in page and "missing" in page
    assert page.count('class="log-row"') == 4


def test_log_filter_by_outcome(client, coordinator_a, screenings):
    client.force_login(coordinator_a)
    page = client.get(reverse("screening:log"), {"outcome": "not_eligible"}).content.decode()
    assert page.count('data-outcome="not_eligible"') == 2 and 'data-outcome="eligible"' not in page
    page = client.get(reverse("screening:log"), {"outcome": "bogus", "site": "x" * 10000}).content.decode()
    assert page.count('class="log-row"') == 4  # unknown filter values are ignored, never a 500


def test_csv_is_scoped_and_filtered(client, coordinator_a, screenings):
    client.force_login(coordinator_a)
    rows = export(client)
    assert [r["screening number"] for r in rows] == ["SITEA-S0001", "SITEA-S0002", "SITEA-S0003", "SITEA-S0004"]
    by_number = {r["screening number"]: r for r in rows}
    assert by_number["SITEA-S0002"]["failed criteria"] == "P16"
    assert "P16: " in by_number["SITEA-S0002"]["reasons"] and "85000" in by_number["SITEA-S0002"]["reasons"]
    assert by_number["SITEA-S0003"]["exclusions that apply"] == "E7"
    assert by_number["SITEA-S0004"]["missing"] == "E13" and by_number["SITEA-S0004"]["outcome"].startswith("Draft")
    assert by_number["SITEA-S0001"]["outcome"] == "Eligible" and by_number["SITEA-S0001"]["reasons"] == ""
    assert [r["screening number"] for r in export(client, outcome="eligible")] == ["SITEA-S0001"]


def test_data_manager_and_multi_site_users_filter_by_site(client, data_manager, coordinator_a, site_b, screenings):
    client.force_login(data_manager)
    assert len(export(client)) == 5
    only_b = export(client, site=site_b.pk)
    assert [(r["site"], r["failed criteria"]) for r in only_b] == [("SITEB", "P10")]
    page = client.get(reverse("screening:log"), {"site": site_b.pk}).content.decode()
    assert "SITEB-S0001" in page and "SITEA-S0001" not in page and 'name="site"' in page
    # A coordinator of one site sees no site filter; one with two sites does.
    client.force_login(coordinator_a)
    assert 'name="site"' not in client.get(reverse("screening:log")).content.decode()
    MembershipFactory(user=coordinator_a, site=site_b, role="monitor")
    coordinator_a.refresh_from_db()
    page = client.get(reverse("screening:log")).content.decode()
    assert 'name="site"' in page and "SITEB-S0001" in page


def test_csv_cells_cannot_become_formulas():
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-A1") == "'-A1" and _cell("P5") == "P5" and _cell(None) == ""
