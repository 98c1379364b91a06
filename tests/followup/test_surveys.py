"""Follow-up surveys: the data manager opens one with a cut-off; each site sees its randomized patients with
completeness, confirms alive or dead; status unknown past the configured days; lost to follow-up by the
data manager; site scoping and bounded queries."""

import datetime as dt

import pytest
from django.urls import reverse

from followup import services
from followup.exceptions import InvalidEntry
from followup.models import Death, FollowupSettings, LastKnownAlive, SurveyEntry
from followup.selectors import completeness, survey_rows
from screening.models import Patient
from tests.followup.factories import day, randomized_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(plans, site_a, site_b, coordinator_a, coordinator_b, data_manager):
    FollowupSettings.objects.create(status_unknown_days=180)
    a1 = randomized_patient(site_a, coordinator_a)
    a2 = randomized_patient(site_a, coordinator_a)
    b1 = randomized_patient(site_b, coordinator_b)
    survey = services.open_survey(cutoff_date=day(185), user=data_manager)
    return {"a1": a1, "a2": a2, "b1": b1, "survey": survey}


def test_open_survey_rules(scene, data_manager):
    with pytest.raises(InvalidEntry, match="already open"):
        services.open_survey(cutoff_date=day(186), user=data_manager)
    services.close_survey(survey=scene["survey"], user=data_manager)
    with pytest.raises(InvalidEntry, match="after the last survey"):
        services.open_survey(cutoff_date=day(185), user=data_manager)
    with pytest.raises(InvalidEntry, match="future"):
        services.open_survey(cutoff_date=dt.date.today() + dt.timedelta(days=5), user=data_manager)


def test_rows_states_status_unknown_and_completeness(scene, coordinator_a, data_manager):
    survey, a1, a2 = scene["survey"], scene["a1"], scene["a2"]
    rows = {r.patient_id: r for r in survey_rows(survey, Patient.objects.all())}
    assert {r.state for r in rows.values()} == {"to_update"}
    # origin day 0 is the only date known alive: 185 days before the cut-off > 180 -> status unknown
    assert rows[a1.pk].status_unknown and rows[a1.pk].last_known_alive == day(0)
    services.record_last_known_alive(patient=a2, user=coordinator_a, data={"date": day(5)})  # 180 days: known
    assert not {r.patient_id: r for r in survey_rows(survey, Patient.objects.all())}[a2.pk].status_unknown
    services.confirm_survey_entry(survey=survey, patient=a1, user=coordinator_a,
                                  data={"status": "alive", "last_known_alive": day(180),
                                        "progression_since_last": False})
    assert LastKnownAlive.objects.get(patient=a1, survey=survey).date == day(180)
    services.record_death(patient=a2, user=coordinator_a, data={"date": day(100), "cause": "other"})
    rows = {r.patient_id: r for r in survey_rows(survey, Patient.objects.all())}
    assert (rows[a1.pk].state, rows[a2.pk].state, rows[scene["b1"].pk].state) == ("confirmed", "dead", "to_update")
    sites = {s.site_code: (s.complete, s.total) for s in completeness(list(rows.values()))}
    assert sites == {"SITEA": (2, 2), "SITEB": (0, 1)}
    services.confirm_lost_to_follow_up(patient=scene["b1"], survey=survey, user=data_manager)
    rows = {r.patient_id: r for r in survey_rows(survey, Patient.objects.all())}
    assert rows[scene["b1"].pk].state == "lost"


def test_a_patient_randomized_after_the_cutoff_is_not_surveyed(scene, data_manager):
    services.close_survey(survey=scene["survey"], user=data_manager)
    early = services.open_survey(cutoff_date=day(186), user=data_manager)
    assert len(survey_rows(early, Patient.objects.all())) == 3
    # a survey whose cut-off is before the randomization date would not list them: check on a fake cut-off
    early.cutoff_date = day(-1)
    assert survey_rows(early, Patient.objects.all()) == []


def test_entry_dead_records_the_death_and_corrections_need_a_reason(scene, coordinator_a):
    survey, a1 = scene["survey"], scene["a1"]
    services.confirm_survey_entry(survey=survey, patient=a1, user=coordinator_a,
                                  data={"status": "dead", "death_date": day(90), "cause": "breast_cancer",
                                        "progression_since_last": True})
    assert Death.objects.get(patient=a1).date == day(90)
    with pytest.raises(InvalidEntry, match="reason"):
        services.confirm_survey_entry(survey=survey, patient=a1, user=coordinator_a,
                                      data={"status": "dead", "death_date": day(90)})
    with pytest.raises(InvalidEntry, match="cannot be alive"):
        services.confirm_survey_entry(survey=survey, patient=a1, user=coordinator_a, reason="typo",
                                      data={"status": "alive", "last_known_alive": day(100)})
    assert SurveyEntry.objects.get().status == "dead"


def test_pages_scoped_and_coordinator_updates(client, scene, coordinator_a, coordinator_b, statistician,
                                              data_manager):
    survey = scene["survey"]
    url = reverse("followup:survey", kwargs={"survey_id": survey.pk})
    client.force_login(coordinator_b)
    page = client.get(url).content.decode()
    assert scene["b1"].screening_number in page and scene["a1"].screening_number not in page
    assert client.get(reverse("followup:survey_entry", kwargs={"survey_id": survey.pk,
                                                              "pk": scene["a1"].pk})).status_code == 404
    client.force_login(coordinator_a)
    entry = reverse("followup:survey_entry", kwargs={"survey_id": survey.pk, "pk": scene["a1"].pk})
    response = client.post(entry, {"status": "alive", "last_known_alive": day(181).isoformat(),
                                   "progression_since_last": "no"})
    assert response.status_code == 302
    assert SurveyEntry.objects.get(patient=scene["a1"]).last_known_alive == day(181)
    assert "1 of 2" in client.get(url).content.decode()
    client.force_login(statistician)
    assert client.get(url).status_code == 403
    client.force_login(data_manager)
    lost = reverse("followup:lost", kwargs={"survey_id": survey.pk, "pk": scene["a2"].pk})
    assert client.post(lost).status_code == 302
    assert "2 of 3" in client.get(url).content.decode()


def test_survey_page_queries_are_bounded(client, scene, plans, site_a, coordinator_a, data_manager,
                                         django_assert_max_num_queries):
    client.force_login(data_manager)
    url = reverse("followup:survey", kwargs={"survey_id": scene["survey"].pk})
    with django_assert_max_num_queries(25) as few:
        client.get(url)
    for _ in range(4):
        p = randomized_patient(site_a, coordinator_a)
        services.record_assessment(patient=p, user=coordinator_a, data={"date": day(30), "progression": False})
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
