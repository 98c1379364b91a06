"""One therapy plan per regimen where a subtype allows several (issue 16): versions per regimen, the
patient's regimen chosen at primary registration, the courses' regimen from the subtype's plans, and S1
counted against the chosen regimen's planned courses."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from followup import services as followup_services
from followup.exceptions import InvalidEntry as FollowupInvalidEntry
from registration import services
from registration.exceptions import NotEligible, NoTherapyPlan
from registration.models import PrimaryRegistration
from screening.models import Patient
from tests.factories import PASSWORD
from tests.registration.factories import make_eligible_screening, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
SINCE = dt.date(2020, 1, 1)


@pytest.fixture
def regimens(data_manager):
    """Luminal allows two regimens (made-up test values); HER2 one, unnamed, as every plan before issue 16."""
    def plan(subtype, name, courses, days, since=SINCE):
        return services.save_therapy_plan(subtype=subtype, name=name, regimen=f"{name or subtype} regimen",
                                          planned_courses=courses, cycle_length_days=days, effective_from=since,
                                          user=data_manager)
    return {"cdk": plan("luminal", "CDK4/6", 3, 28), "chemo_v1": plan("luminal", "Chemo", 4, 21),
            "chemo": plan("luminal", "Chemo", 6, 21, since=SINCE + DAY), "her2": plan("her2", "", 4, 21)}


def test_versions_are_numbered_per_regimen_and_one_plan_per_regimen_is_in_force(regimens):
    assert (regimens["cdk"].version, regimens["chemo_v1"].version, regimens["chemo"].version) == (1, 1, 2)
    in_force = services.plans_in_force("luminal", timezone.localdate())
    assert [(p.name, p.version) for p in in_force] == [("CDK4/6", 1), ("Chemo", 2)]
    assert services.plan_in_force("luminal", timezone.localdate()) is None  # several: the regimen is chosen
    assert services.plan_in_force("luminal", timezone.localdate(), "Chemo") == regimens["chemo"]
    assert services.plan_in_force("her2", timezone.localdate()) == regimens["her2"]
    assert "Chemo v2" in str(regimens["chemo"]) and regimens["her2"].regimen_label == "her2 regimen"


def test_primary_registration_needs_the_regimen_where_the_subtype_allows_several(regimens, site_a, coordinator_a):
    screening = make_eligible_screening(site=site_a)
    with translation.override("en"):
        with pytest.raises(NoTherapyPlan, match=r"several regimens in force .*\(CDK4/6, Chemo\): choose") as refused:
            register(screening, coordinator_a)
        assert refused.value.code == "choose_regimen"
        with pytest.raises(NoTherapyPlan, match="No regimen named Other"):
            services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD,
                                      registration_date=screening.screening_date, regimen="Other")
    assert not PrimaryRegistration.objects.exists()
    assert Patient.objects.get(pk=screening.patient_id).stage == Patient.Stage.ELIGIBLE  # nothing half-written
    primary = services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD,
                                        registration_date=screening.screening_date, regimen="Chemo")
    assert primary.plan == regimens["chemo"]
    # A subtype with one regimen needs no choice, as before.
    her2 = make_eligible_screening(site=site_a, subtype="her2")
    assert register(her2, coordinator_a).plan == regimens["her2"]


def test_the_primary_page_offers_the_regimens_and_registers_the_chosen_one(client, regimens, site_a,
                                                                            coordinator_a):
    today = timezone.localdate()
    patient = make_eligible_screening(site=site_a, on=today).patient
    client.force_login(coordinator_a)
    url = reverse("registration:primary", kwargs={"pk": patient.pk})
    page = client.get(url).content.decode()
    assert 'id="regimens"' in page and 'name="regimen"' in page and "CDK4/6" in page
    response = client.post(url, {"password": PASSWORD})  # no regimen chosen: the form says so, nothing saved
    assert response.status_code == 200 and not PrimaryRegistration.objects.exists()
    response = client.post(url, {"password": PASSWORD, "regimen": "CDK4/6"})
    assert response.status_code == 302
    assert PrimaryRegistration.objects.get(patient=patient).plan == regimens["cdk"]


def test_courses_follow_a_regimen_of_the_subtype_and_s1_counts_against_the_chosen_one(regimens, site_a,
                                                                                      coordinator_a):
    today = timezone.localdate()
    screening = make_eligible_screening(site=site_a, on=today - 90 * DAY)
    primary = services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD,
                                        registration_date=screening.screening_date, regimen="Chemo")
    patient = primary.patient
    with pytest.raises(FollowupInvalidEntry, match="not a therapy plan of this patient's subtype"):
        followup_services.record_course(patient=patient, user=coordinator_a, data={
            "plan": regimens["her2"], "start_date": primary.registration_date, "end_date": None,
            "dose_modified": False, "stopped_early": False})
    first = followup_services.record_course(patient=patient, user=coordinator_a, data={
        "plan": regimens["cdk"], "start_date": primary.registration_date,
        "end_date": primary.registration_date + 20 * DAY, "dose_modified": False, "stopped_early": False})
    assert first.plan == regimens["cdk"]  # another regimen of the subtype's plans
    record(patient, coordinator_a, today - 2 * DAY, courses_given=4)  # 4 courses, Chemo plans 6
    with pytest.raises(NotEligible) as refused:
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    assert [cid for cid, _text in refused.value.failures] == ["S1"]
    given = services.courses_given(primary, today)
    assert given.count == 4 and given.courses[0].regimen == "CDK4/6"
