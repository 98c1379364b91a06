"""The screening and patient forms against malformed and hostile input: messages, status 200, never a
500, never a half-saved screening (database counts unchanged, history included)."""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from screening import eligibility as rules
from screening import services
from screening.forms import MIN_LESION_ROWS, SCREENING_FIELDS
from screening.models import LabPanel, Lesion, Patient, Screening
from tests.screening.factories import eligible_inputs, post_data

pytestmark = pytest.mark.django_db
LONG = "x" * 10_000


def counts():
    return {m.__name__: (m.objects.count(), m.history.count()) for m in (Patient, Screening, Lesion, LabPanel)}


@pytest.fixture
def patient(site_a, coordinator_a):
    return services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)


@pytest.fixture
def crc(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


def create_url(patient):
    return reverse("screening:screening_create", args=[patient.pk])


def test_the_form_shows_at_least_four_lesion_rows_and_three_way_choices(crc, patient):
    page = crc.get(create_url(patient)).content.decode()
    assert f'name="lesions-{MIN_LESION_ROWS - 1}-organ"' in page
    assert 'name="lesions-TOTAL_FORMS" value="4"' in page
    # yes / no / not recorded for a nullable boolean
    for value in ("True", "False", ""):
        assert f'name="e7" value="{value}"' in page
    assert "not recorded" in page


def test_every_interpretation_and_criterion_help_is_shown(crc, patient):
    page = html.unescape(crc.get(create_url(patient)).content.decode())
    for key, text in rules.INTERPRETATIONS.items():
        assert text in page, key
    for cid in [*rules.PRIMARY_IDS, *rules.EXCLUSION_IDS]:
        info = rules.CRITERIA[cid]
        assert info.text() in page, cid  # the title with its protocol numbers filled in
        if info.help_text:
            assert info.help_text in page, cid
    # Sections in the protocol's order.
    order = [page.index(f'id="section-{key}"') for key in
             ("patient", "histology", "presentation", "staging", "lesions", "labs", "other", "exclusions")]
    assert order == sorted(order)


def test_a_valid_post_saves_and_shows_the_checklist(crc, patient):
    data, lesions, labs = eligible_inputs()
    response = crc.post(create_url(patient), post_data(data, lesions, labs))
    assert response.status_code == 302
    screening = patient.screenings.get()
    assert response["Location"] == reverse("screening:checklist", args=[screening.pk])
    assert screening.outcome == Screening.Outcome.ELIGIBLE
    assert screening.history.get().history_user.username == "crc_a"


def test_a_fourth_lesion_row_is_recorded_and_fails_p5(crc, patient):
    data, lesions, labs = eligible_inputs()
    lesions += [{"organ": "liver", "diameter_mm": Decimal("25"), "mdt_feasible": True, "symptomatic": False},
                {"organ": "lymph_node", "diameter_mm": Decimal("9"), "mdt_feasible": True, "symptomatic": False}]
    assert crc.post(create_url(patient), post_data(data, lesions, labs)).status_code == 302
    screening = patient.screenings.get()
    assert screening.lesions.count() == 4 and screening.verdict["failed"] == ["P5"]


def test_save_as_draft_with_facts_missing(crc, patient):
    data, lesions, _labs = eligible_inputs()
    data.update(e12=None, e13=None, ecog=None)
    response = crc.post(create_url(patient), post_data(data, lesions, None, button="save_draft"))
    screening = patient.screenings.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:screening_edit", args=[screening.pk])
    assert screening.outcome == Screening.Outcome.DRAFT
    assert screening.verdict["missing"] == ["P10", "P16", "E12", "E13"]
    page = crc.get(response["Location"]).content.decode()
    assert "Still missing: P10, P16, E12, E13" in page


def _refused(client, url, post, *expected):
    before = counts()
    response = client.post(url, post)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Nothing was saved" in page
    for text in expected:
        assert text in page, text
    assert counts() == before
    return page


@pytest.mark.parametrize("changes, expected", [
    ({"ecog": "abc"}, ["Select a valid choice"]),
    ({"invasive_carcinoma": "maybe"}, ["Select a valid choice"]),
    ({"lvef_percent": "many"}, ["Enter a number"]),
    ({"lvef_percent": "NaN"}, ["Enter a number"]),
    ({"lvef_percent": "-3"}, ["at least 0"]),
    ({"lvef_percent": "1e9"}, ["Ensure that there are no more than"]),
    ({"consent_date": "2026-13-45"}, ["Enter a valid date"]),
    ({"er": "Positive"}, ["Select a valid choice"]),
    ({"lesions-1-diameter_mm": "-5"}, ["at least 0.1"]),
    ({"lesions-1-diameter_mm": "0"}, ["at least 0.1"]),
    ({"lesions-1-diameter_mm": "9999"}, ["at most 500"]),
    ({"lesions-1-diameter_mm": "twelve"}, ["Enter a number"]),
    ({"lesions-1-organ": "spleen"}, ["Select a valid choice"]),
    ({"lesions-1-bilsky_grade": "1c"}, ["Bone findings apply to bone lesions only"]),
    ({"lesions-2-diameter_mm": "12"}, ["This field is required"]),  # a row with data needs its organ
    ({"labs-anc": "-1"}, ["at least 0"]),
    ({"labs-hemoglobin": "120"}, ["at most 25"]),
    ({"labs-platelets": "lots"}, ["Enter a number"]),
    ({"screening_date": ""}, ["This field is required"]),
    ({"lvef_percent": "9" * 10_000}, ["Ensure that there are no more than"]),
    ({"ecog": "1" * 5_000}, ["Select a valid choice"]),
    ({"lesions-0-lesion_id": "1" * 5_000}, ["Enter a whole number"]),
])
def test_wrong_types_and_absurd_values_give_messages(crc, patient, changes, expected):
    data, lesions, labs = eligible_inputs()
    post = {**post_data(data, lesions, labs), **changes}
    _refused(crc, create_url(patient), post, *expected)


def test_dates_in_the_future_are_refused(crc, patient):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    data, lesions, labs = eligible_inputs()
    for name in ("screening_date", "consent_date", "ct_date", "recurrence_date", "labs-date"):
        post = {**post_data(data, lesions, labs), name: tomorrow}
        _refused(crc, create_url(patient), post, "A date in the future is not allowed")
    post = {**post_data(data, lesions, labs), "ct_date": "1850-01-01"}
    _refused(crc, create_url(patient), post, "not plausible")


def test_ten_thousand_character_strings_everywhere(crc, patient):
    data, lesions, labs = eligible_inputs()
    post = post_data(data, lesions, labs)
    hostile = {key: LONG for key in post if not key.startswith("lesions-") or key.endswith(("organ", "diameter_mm"))}
    hostile = {k: v for k, v in hostile.items() if "FORMS" not in k and k not in ("save",)}
    _refused(crc, create_url(patient), {**post, **hostile}, "Select a valid choice", "Enter a valid date")


def test_missing_or_tampered_management_form(crc, patient):
    data, lesions, labs = eligible_inputs()
    post = post_data(data, lesions, labs)
    without = {k: v for k, v in post.items() if "FORMS" not in k}
    _refused(crc, create_url(patient), without, "ManagementForm data is missing or has been tampered with")
    for total in ("abc", "-1", "1000000", LONG):
        _refused(crc, create_url(patient), {**post, "lesions-TOTAL_FORMS": total})
    _refused(crc, create_url(patient), {**post, "lesions-INITIAL_FORMS": "50"})
    assert crc.post(create_url(patient), {}).status_code == 200


def test_a_lesion_id_of_another_screening_is_refused(crc, patient, site_a, coordinator_a):
    data, lesions, labs = eligible_inputs()
    other = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1960, 1, 1), user=coordinator_a)
    foreign = services.save_screening(patient=other, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    post = post_data(data, [{"id": foreign.lesions.first().pk, **lesions[0]}, lesions[1]], labs)
    _refused(crc, create_url(patient), post, "does not belong")
    post = post_data(data, [{"id": "x", **lesions[0]}], labs)
    _refused(crc, create_url(patient), post, "Enter a whole number")


def test_editing_an_evaluated_screening_needs_a_reason(crc, patient, coordinator_a):
    data, lesions, labs = eligible_inputs()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    url = reverse("screening:screening_edit", args=[screening.pk])
    page = crc.get(url).content.decode()
    assert 'name="reason"' in page and 'value="True"  id="id_invasive_carcinoma_0" checked' in page
    with_ids = [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]
    changed = {**data, "ecog": 2}
    _refused(crc, url, post_data(changed, with_ids, labs, initial_forms=2), "Give a reason for the change")
    _refused(crc, url, post_data(changed, with_ids, labs, initial_forms=2, reason=LONG), "at most 100 characters")
    response = crc.post(url, post_data(changed, with_ids, labs, initial_forms=2, reason="ECOG re-assessed"))
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.outcome == Screening.Outcome.NOT_ELIGIBLE
    assert screening.history.latest().history_change_reason == "ECOG re-assessed"
    assert screening.lesions.count() == 2  # the two lesions were kept, not re-created
    assert Lesion.history.count() == 2


def test_removing_a_lesion_with_the_delete_box(crc, patient, coordinator_a):
    data, lesions, labs = eligible_inputs()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    with_ids = [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]
    post = post_data(data, with_ids, labs, initial_forms=2, reason="lung nodule was benign")
    post["lesions-1-DELETE"] = "on"
    assert crc.post(reverse("screening:screening_edit", args=[screening.pk]), post).status_code == 302
    assert list(screening.lesions.values_list("organ", flat=True)) == ["bone"]


def test_the_form_covers_every_screening_fact():
    assert set(SCREENING_FIELDS) == set(services.FACT_FIELDS)


# ---- the patient form ------------------------------------------------------------------------------------


def test_new_patient_form(crc, site_a):
    response = crc.post(reverse("screening:patient_create"),
                        {"site": site_a.pk, "sex": "female", "birth_date": "1970-04-01", "initials": "ab"})
    patient = Patient.objects.get()
    assert response.status_code == 302 and patient.screening_number == "SITEA-S0001" and patient.initials == "AB"


@pytest.mark.parametrize("post, expected", [
    ({"sex": "other", "birth_date": "1970-04-01"}, "Select a valid choice"),
    ({"sex": "female", "birth_date": "2999-01-01"}, "A date in the future is not allowed"),
    ({"sex": "female", "birth_date": LONG}, "Enter a valid date"),
    ({"sex": "female", "birth_date": "1970-04-01", "initials": LONG}, "at most 4 characters"),
    ({"sex": "female", "birth_date": "1970-04-01", "initials": "Tan"[:2] + "1"}, "Up to 4 letters"),
    ({"sex": "female"}, "This field is required"),
    ({"sex": "female", "birth_date": "1970-04-01", "site": "999999"}, "Select a valid choice"),
    ({"sex": "female", "birth_date": "1970-04-01", "site": LONG}, "Select a valid choice"),
])
def test_new_patient_form_refuses_bad_input(crc, site_a, post, expected):
    post = {"site": site_a.pk, **post}
    response = crc.post(reverse("screening:patient_create"), post)
    assert response.status_code == 200
    assert expected in html.unescape(response.content.decode())
    assert Patient.objects.count() == 0


def test_a_patient_cannot_be_created_at_a_site_of_someone_else(crc, site_a, site_b):
    response = crc.post(reverse("screening:patient_create"),
                        {"site": site_b.pk, "sex": "female", "birth_date": "1970-04-01"})
    assert response.status_code == 200 and Patient.objects.count() == 0


# ---- concurrent edits (issue 13): a stale save is refused with what differs, nothing lost ------------------


def test_two_saves_from_the_same_loaded_version_the_second_is_refused_with_the_differences(
        crc, patient, coordinator_a, investigator_a):
    from tests.conftest import OligamiClient

    data, lesions, labs = eligible_inputs()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    url = reverse("screening:screening_edit", args=[screening.pk])
    loaded = screening.version
    assert f'name="version" value="{loaded}"' in crc.get(url).content.decode()  # both open the form now
    pi = OligamiClient()
    pi.force_login(investigator_a)
    assert f'name="version" value="{loaded}"' in pi.get(url).content.decode()
    with_ids = [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]

    first = post_data({**data, "ecog": 1}, with_ids, labs, initial_forms=2, reason="ECOG re-assessed")
    assert pi.post(url, {**first, "version": str(loaded)}).status_code == 302  # the first save wins
    screening.refresh_from_db()
    assert screening.ecog == 1 and screening.version == loaded + 1

    before = counts()
    second = post_data({**data, "ecog": 0, "lvef_percent": 61}, with_ids, labs, initial_forms=2, reason="typo")
    response = crc.post(url, {**second, "version": str(loaded)})  # loaded before the first save
    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert "Someone else saved this screening after you opened it" in page and 'id="screening-conflict"' in page
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert ("ECOG performance status", "0", "1") in rows or any(r[1:] == ("0", "1") for r in rows), rows
    assert counts() == before  # nothing written
    screening.refresh_from_db()
    assert screening.ecog == 1 and screening.version == loaded + 1  # the first save is kept
    assert 'value="61"' in page  # the user's entries stay in the form
    assert f'name="version" value="{loaded + 1}"' in page  # saving again now is a deliberate overwrite
    response = crc.post(url, {**second, "version": str(loaded + 1)})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.ecog == 0 and screening.version == loaded + 2


def test_the_service_refuses_a_stale_version_and_a_bad_version_answers_clearly(crc, patient, coordinator_a):
    from screening.exceptions import StaleScreening

    data, lesions, labs = eligible_inputs()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    with_ids = [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]
    services.save_screening(patient=patient, screening=screening, data={**data, "ecog": 1}, lesions=with_ids,
                            labs=labs, user=coordinator_a, reason="first", expected_version=screening.version)
    with pytest.raises(StaleScreening) as refused:
        services.save_screening(patient=patient, screening=screening, data={**data, "ecog": 0}, lesions=with_ids,
                                labs=labs, user=coordinator_a, reason="second", expected_version=screening.version)
    assert refused.value.current_version == screening.version + 1
    assert [row[1:] for row in refused.value.changes] == [("0", "1")]
    url = reverse("screening:screening_edit", args=[screening.pk])
    post = post_data({**data, "ecog": 0}, with_ids, labs, initial_forms=2, reason="x")
    response = crc.post(url, {**post, "version": "abc"})
    assert response.status_code == 409 and "Someone else saved" in html.unescape(response.content.decode())
