"""Exports: data managers only, streamed in constant memory, no names or birth dates, never the concealed
allocation list; the analysis data set has one row per screened patient and a dictionary of every column."""

import csv
import datetime as dt
import gc
import io
import tracemalloc
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from oversight import exports
from randomization.models import BlockListEntry
from registration import services as registration_services
from screening.models import LabPanel, Patient, Screening
from tests.factories import PASSWORD, ScreeningFactory
from tests.randomization.factories import blocks_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
TABLES = ["patients", "screenings", "lesions", "lab-panels", "primary-registrations", "evaluations",
          "secondary-registrations", "off-study", "allocations"]


def _urls():
    return ([reverse("oversight:exports"), reverse("oversight:export_analysis"), reverse("oversight:data_dictionary"),
             reverse("oversight:data_dictionary_csv")]
            + [reverse("oversight:export_table", args=[t]) for t in TABLES])


def _csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def trial(site_a, site_b, coordinator_a, coordinator_b):
    """Site A: a randomized patient (blocks), an off-study patient, a screen failure; site B: one eligible."""
    make_plans()
    blocks_config(slots=4)
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY, patient__initials="QZ",
                                               patient__birth_date=dt.date(1961, 4, 3)), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    off = register(make_eligible_screening(site=site_a, on=today - 20 * DAY), coordinator_a).patient
    registration_services.take_off_study(patient=off, user=coordinator_a, date=today, reason="withdrawal",
                                         details="=HYPERLINK(\"http://evil\")")
    failed = ScreeningFactory(patient__site=site_a, outcome="not_eligible",
                              verdict={"failed": ["P16", "P5"], "excluded_by": ["E7"], "missing": []})
    failed.patient.stage = Patient.Stage.SCREEN_FAILED
    failed.patient.save()
    make_eligible_screening(site=site_b)
    return {"randomized": patient, "off": off, "failed": failed.patient}


def test_only_data_managers_export(client, coordinator_a, monitor_a, investigator_a, statistician, no_role_user,
                                   data_manager):
    for user in (coordinator_a, monitor_a, investigator_a, statistician, no_role_user):
        client.force_login(user)
        for url in _urls():
            assert client.get(url).status_code == 403, (user, url)
    client.force_login(data_manager)
    for url in _urls():
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("oversight:export_table", args=["block-list"])).status_code == 404
    assert client.get(reverse("oversight:export_table", args=["blocklistentry"])).status_code == 404


def test_every_table_streams_with_numbers_only(client, data_manager, trial):
    client.force_login(data_manager)
    everything = b""
    for table in TABLES:
        response = client.get(reverse("oversight:export_table", args=[table]))
        assert isinstance(response, StreamingHttpResponse), table
        assert response["Content-Type"].startswith("text/csv")
        body = b"".join(response.streaming_content)
        assert body.count(b"\n") >= 2, table  # header and at least one row
        everything += body
    text = everything.decode()
    assert "QZ" not in text and "1961-04-03" not in text  # no initials, no date of birth
    assert "Test User" not in text and "crc_a" not in text  # no staff names
    assert "'=HYPERLINK" in text  # a formula is quoted as text (CSV injection)
    rows = _csv(client.get(reverse("oversight:export_table", args=["patients"])))
    assert {r["birth_year"] for r in rows if r["screening_number"] == trial["randomized"].screening_number} == \
        {"1961"}
    evaluations = _csv(client.get(reverse("oversight:export_table", args=["evaluations"])))
    # S1's courses: counted from the courses recorded by the evaluation date (issue 16), never typed
    assert {r["courses_given"] for r in evaluations if r["screening_number"] == trial["randomized"].screening_number} \
        == {"3"}
    allocations = _csv(client.get(reverse("oversight:export_table", args=["allocations"])))
    assert len(allocations) == 1 and allocations[0]["arm"] in ("A", "B")
    assert "block_entry" not in allocations[0] and "seed" not in " ".join(allocations[0])
    assert BlockListEntry.objects.count() > 1  # the list exists, and none of its slots was exported


def test_the_analysis_data_set_has_one_row_per_screened_patient(client, data_manager, trial):
    client.force_login(data_manager)
    rows = _csv(client.get(reverse("oversight:export_analysis")))
    assert len(rows) == Patient.objects.filter(screenings__isnull=False).distinct().count() == 4
    by_number = {r["screening_number"]: r for r in rows}
    randomized = by_number[trial["randomized"].screening_number]
    assert randomized["consort_box"] == "randomized" and "arm" not in randomized  # blinding: statistician only
    # FOLLOWUP.md endpoints: randomized today with nothing since, so censored at day 0 (F1, F2)
    assert (randomized["os_days"], randomized["os_event"], randomized["pfs_days"], randomized["pfs_event"],
            randomized["endpoint_problems"]) == ("0", "0", "0", "0", "")
    not_randomized = next(r for r in rows if r["consort_box"] != "randomized")
    assert not_randomized["os_days"] == not_randomized["os_event"] == ""
    assert randomized["registration_number"].startswith("OLG-") and randomized["factor_subtype"] == "luminal"
    assert randomized["randomization_date"] == timezone.localdate().isoformat()
    screened_on = timezone.localdate() - 90 * DAY
    age = screened_on.year - 1961 - ((screened_on.month, screened_on.day) < (4, 3))
    assert randomized["age_at_screening"] == str(age) and randomized["reason_not_randomized"] == ""
    off = by_number[trial["off"].screening_number]
    assert (off["consort_box"], off["reason_not_randomized"], off["off_study_reason"]) == (
        "off_study", "withdrawal", "withdrawal")
    failed = by_number[trial["failed"].screening_number]
    assert (failed["consort_box"], failed["reason_not_randomized"], failed["failed_criteria"]) == (
        "screen_failed", "P5", "P16 P5 E7")  # the first failed criterion in protocol order
    assert set(rows[0]) == {name for name, *_rest in exports.dictionary_rows()}


def test_the_dictionary_describes_every_column(client, data_manager):
    client.force_login(data_manager)
    html = client.get(reverse("oversight:data_dictionary")).content.decode()
    for name in exports.analysis_header():
        assert f"<code>{name}</code>" in html
    rows = _csv(client.get(reverse("oversight:data_dictionary_csv")))
    assert [r["column"] for r in rows] == exports.analysis_header()
    assert all(r["description"] for r in rows)


def test_the_exports_page_lists_every_export(client, data_manager):
    client.force_login(data_manager)
    html = client.get(reverse("oversight:exports")).content.decode()
    for url in _urls()[1:]:
        assert url in html
    assert reverse("screening:log_csv") in html


def test_a_site_user_exports_only_her_own_sites_screening_log(client, coordinator_a, trial, site_b):
    client.force_login(coordinator_a)
    response = client.get(reverse("screening:log_csv"))
    assert isinstance(response, StreamingHttpResponse)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]
    assert rows and {row[0] for row in rows} == {"SITEA"}


# --- constant memory ------------------------------------------------------------------------------------


def _bulk(site, start, n):
    """n screen-failed patients with a screening and a lab panel each (bulk: test set-up only)."""
    patients = Patient.objects.bulk_create([
        Patient(site=site, screening_number=f"{site.code}-M{i:05d}", sequence=i, sex="female",
                birth_date=dt.date(1970, 1, 1), stage=Patient.Stage.SCREEN_FAILED) for i in range(start, start + n)])
    panels = LabPanel.objects.bulk_create([
        LabPanel(patient=p, date=dt.date(2026, 3, 1), anc=Decimal("3000"), hemoglobin=Decimal("12.0"),
                 platelets=Decimal("220000"), bilirubin=Decimal("0.6"), ast=Decimal("20"), alt=Decimal("20"),
                 creatinine=Decimal("0.80")) for p in patients])
    Screening.objects.bulk_create([
        Screening(patient=p, number=1, screening_date=dt.date(2026, 3, 2), outcome="not_eligible", labs=panel,
                  verdict={"eligible": False, "failed": ["P16"], "excluded_by": [], "missing": []})
        for p, panel in zip(patients, panels, strict=True)])


def _peak(client, url) -> tuple[int, int]:
    """(bytes streamed, peak traced memory) over the request and the export consumed chunk by chunk."""
    gc.collect()
    tracemalloc.start()
    try:
        response = client.get(url)
        assert isinstance(response, StreamingHttpResponse)
        size = sum(len(chunk) for chunk in response.streaming_content)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def test_exports_stream_in_constant_memory(client, data_manager, site_a, monkeypatch):
    """Five times the rows, about the same peak memory (request included): an export that built its file
    or its rows in memory needs two to three times as much here already. Smaller fetches than in
    production, so that a few thousand rows span many of them."""
    monkeypatch.setattr(exports, "CHUNK_SIZE", 100)
    monkeypatch.setattr(exports, "ANALYSIS_CHUNK_SIZE", 50)
    client.force_login(data_manager)
    urls = [reverse("oversight:export_table", args=["lab-panels"]), reverse("oversight:export_analysis")]
    _bulk(site_a, 1, 400)
    small = {url: _peak(client, url) for url in urls}
    _bulk(site_a, 401, 1600)
    for url in urls:
        size, peak = _peak(client, url)
        assert size > 4.5 * small[url][0], url
        assert peak < 1.3 * small[url][1] + 100_000, (url, small[url], (size, peak))
