"""Codes in the CSV, labels in the Excel variant (issue 20): the Japanese Excel export reads in Japanese (the
GLOSSARY's terms) where the dictionary marks a column "label"; the plain CSV keeps its stable codes."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from oligami_site import csvfiles
from oversight import exports
from registration import services as registration_services
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def patients(site_a, coordinator_a):
    make_plans()
    registered = register(make_eligible_screening(site=site_a), coordinator_a).patient
    off = register(make_eligible_screening(site=site_a, subtype="her2"), coordinator_a).patient
    registration_services.take_off_study(patient=off, user=coordinator_a, date=off.primary_registration
                                         .registration_date, reason="withdrawal", details="")
    return registered, off


@pytest.fixture
def japanese(data_manager):
    data_manager.preferred_language = "ja"
    data_manager.save()
    return data_manager


def test_the_analysis_set_has_codes_in_the_csv_and_japanese_labels_for_excel(client, patients, japanese):
    registered, off = patients
    client.force_login(japanese)
    plain = {r["screening_number"]: r for r in rows_of(client.get(reverse("oversight:export_analysis")))}
    excel = {r["screening_number"]: r for r in rows_of(client.get(reverse("oversight:export_analysis") + "?excel=1"))}
    assert plain.keys() == excel.keys() and list(next(iter(plain.values()))) == list(next(iter(excel.values())))
    row, xrow = plain[registered.screening_number], excel[registered.screening_number]
    assert (row["subtype"], row["sex"], row["stage"]) == ("luminal", "female", "registered")
    assert xrow["subtype"] == "ルミナル型" and xrow["sex"] == "女性" and xrow["stage"] != "registered"
    assert xrow["status"] != row["status"] and xrow["consort_box"] != row["consort_box"]
    assert xrow["registration_number"] == row["registration_number"]  # identifiers and dates stay as they are
    assert xrow["primary_registration_date"] == row["primary_registration_date"]
    off_row, off_xrow = plain[off.screening_number], excel[off.screening_number]
    assert off_row["subtype"] == "her2" and off_xrow["subtype"] == "HER2陽性"
    assert off_row["off_study_reason"] == "withdrawal" and off_xrow["off_study_reason"] not in ("withdrawal", "")


def test_tables_label_their_coded_columns_for_excel_only(client, patients, japanese):
    client.force_login(japanese)
    url = reverse("oversight:export_table", args=["primary-registrations"])
    assert {r["subtype"] for r in rows_of(client.get(url))} == {"luminal", "her2"}
    assert {r["subtype"] for r in rows_of(client.get(url + "?excel=1"))} == {"ルミナル型", "HER2陽性"}
    patients_url = reverse("oversight:export_table", args=["patients"])
    assert {r["sex"] for r in rows_of(client.get(patients_url + "?excel=1"))} == {"女性"}


def test_the_english_excel_variant_has_english_labels(client, patients, data_manager):
    client.force_login(data_manager)
    rows = rows_of(client.get(reverse("oversight:export_table", args=["primary-registrations"]) + "?excel=1"))
    assert {r["subtype"] for r in rows} == {"luminal", "HER2-positive"}


def test_the_dictionary_says_which_columns_the_excel_variant_labels(client, japanese):
    client.force_login(japanese)
    rows = {r["column"]: r for r in rows_of(client.get(reverse("oversight:data_dictionary_csv")))}
    assert set(rows) == {name for name, *_rest in exports.dictionary_rows()}
    labelled = {name for name, row in rows.items() if row["excel_variant"] == "ラベル"}
    assert {"subtype", "sex", "stage", "status", "consort_box", "off_study_reason", "death_cause"} <= labelled
    assert not labelled & {"screening_number", "registration_number", "failed_criteria", "evaluation_date",
                           "reason_not_randomized", "os_days"}
    assert labelled == set(exports.CODE_LABELS) & set(rows)
    html = client.get(reverse("oversight:data_dictionary")).content.decode()
    assert "ラベル" in html and "Excel" in html


def test_every_label_of_the_excel_variant_is_japanese_in_japanese():
    with translation.override("ja"):
        labels = exports.labels()
    for column, mapping in labels.items():
        for code, label in mapping.items():
            assert any(ord(ch) > 0x3000 for ch in label), (column, code, label)  # translated, not English


def test_the_screening_log_labels_the_subtype_for_excel(client, patients, site_a, coordinator_a):
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    plain = list(csv.reader(io.StringIO(b"".join(client.get(reverse("screening:log_csv")).streaming_content)
                                        .decode())))
    excel = list(csv.reader(io.StringIO(b"".join(client.get(reverse("screening:log_csv") + "?excel=1")
                                                 .streaming_content).decode("utf-8-sig"))))
    assert {row[5] for row in plain[1:]} == {"luminal", "her2"}
    assert {row[5] for row in excel[1:]} == {"ルミナル型", "HER2陽性"}


def test_labelled_replaces_known_codes_of_the_named_columns_only():
    rows = [("luminal", "luminal", None), ("odd", "her2", "")]
    out = list(csvfiles.labelled(["subtype", "other", "empty"], rows, {"subtype": {"luminal": "L"},
                                                                         "empty": {"x": "y"}}))
    assert out == [["L", "luminal", None], ["odd", "her2", ""]]
