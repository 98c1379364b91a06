"""Protocol deviations: services (who, validation, audit, close), suggestions from the data, pages."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from oversight import deviations
from oversight.deviations import DeviationRefused
from oversight.models import Deviation
from screening import eligibility as rules
from tests.factories import PatientFactory
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 4, 1)
VALUES = {"date": dt.date(2026, 3, 20), "category": "schedule", "description": "Evaluation on day 70.",
          "impact_safety": "none", "impact_endpoint": "possible", "corrective_action": "", "preventive_action": ""}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC)):
        yield


@pytest.fixture
def patient(site_a):
    with time_machine.travel(dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)):
        return PatientFactory(site=site_a)


def test_site_records_data_centre_closes_with_actions(patient, coordinator_a, data_manager):
    deviation = deviations.record_deviation(user=coordinator_a, site_id=0, patient=patient, values=VALUES)
    assert deviation.site_id == patient.site_id and deviation.status == "open"
    with pytest.raises(DeviationRefused) as refused:
        deviations.close_deviation(user=data_manager, deviation=deviation, reason="")
    assert refused.value.code == "actions_missing"
    deviations.update_deviation(user=coordinator_a, deviation=deviation, reason="Actions agreed",
                                values={**VALUES, "corrective_action": "Re-trained", "preventive_action": "Checklist"})
    with pytest.raises(DeviationRefused):
        deviations.close_deviation(user=coordinator_a, deviation=deviation, reason="")
    deviations.close_deviation(user=data_manager, deviation=deviation, reason="Reviewed")
    deviation.refresh_from_db()
    assert deviation.status == "closed"
    reasons = list(deviation.history.order_by("history_id").values_list("history_user__username",
                                                                         "history_change_reason"))
    assert reasons == [(coordinator_a.username, "Deviation recorded"), (coordinator_a.username, "Actions agreed"),
                       (data_manager.username, "Reviewed")]
    with pytest.raises(DeviationRefused):
        deviations.update_deviation(user=data_manager, deviation=deviation, values=VALUES, reason="late")


@pytest.mark.parametrize(("change", "code"), [
    ({"date": None}, "date_required"),
    ({"date": dt.date(2026, 4, 2)}, "future_date"),
    ({"category": "nonsense"}, "bad_category"),
    ({"impact_safety": ""}, "bad_impact"),
    ({"description": "  "}, "description_required"),
    ({"description": "x" * 2001}, "text_too_long"),
])
def test_bad_input_is_refused_and_nothing_saved(patient, coordinator_a, change, code):
    with pytest.raises(DeviationRefused) as refused:
        deviations.record_deviation(user=coordinator_a, site_id=0, patient=patient, values={**VALUES, **change})
    assert refused.value.code == code
    assert not Deviation.objects.exists()


@pytest.mark.parametrize("who", ["monitor_a", "coordinator_b", "statistician"])
def test_only_the_sites_staff_and_the_data_centre_record(request, patient, who):
    with pytest.raises(DeviationRefused):
        deviations.record_deviation(user=request.getfixturevalue(who), site_id=0, patient=patient, values=VALUES)


def test_labs_out_of_window_is_suggested_until_recorded(site_a, coordinator_a, data_manager):
    make_plans()
    screening = make_eligible_screening(site=site_a)
    registration = register(screening, coordinator_a)
    assert deviations.suggestions(site_ids=None) == []
    # A lab date corrected afterwards to one day beyond the P16 window: suggested; on the boundary: not.
    labs = screening.labs
    labs.date = registration.registration_date - dt.timedelta(days=rules.LAB_WINDOW_DAYS)
    labs.save()
    assert deviations.suggestions(site_ids=None) == []
    labs.date = registration.registration_date - dt.timedelta(days=rules.LAB_WINDOW_DAYS + 1)
    labs.save()
    [found] = deviations.suggestions(site_ids=None)
    assert (found.rule, found.patient_id) == ("labs_out_of_window", registration.patient_id)
    assert deviations.suggestions(site_ids={site_a.pk + 1000}) == []
    deviations.record_deviation(user=data_manager, site_id=0, patient=registration.patient, rule=found.rule,
                                finding=found.finding, values={**VALUES, "date": registration.registration_date})
    assert deviations.suggestions(site_ids=None) == []
    with pytest.raises(DeviationRefused) as refused:
        deviations.record_deviation(user=data_manager, site_id=0, patient=registration.patient, rule=found.rule,
                                    finding=found.finding, values={**VALUES, "date": registration.registration_date})
    assert refused.value.code == "duplicate"


def test_wrong_regimen_is_suggested(site_a, coordinator_a):
    plans = make_plans()
    registration = register(make_eligible_screening(site=site_a), coordinator_a)
    assert registration.subtype == "luminal"
    registration.plan = plans["her2"]
    registration.save()
    [found] = deviations.suggestions(site_ids=None)
    assert found.rule == "wrong_regimen"


def test_pages_record_and_scope(client, patient, coordinator_a, coordinator_b, data_manager):
    client.force_login(coordinator_a)
    response = client.post(reverse("deviations:new"), {**VALUES, "date": "2026-03-20",
                                                       "patient": patient.pk})
    deviation = Deviation.objects.get()
    assert response.status_code == 302 and deviation.recorded_by == coordinator_a
    assert client.get(reverse("deviations:detail", args=[deviation.pk])).status_code == 200
    client.force_login(coordinator_b)
    assert str(deviation) not in client.get(reverse("deviations:list")).content.decode()
    assert client.get(reverse("deviations:detail", args=[deviation.pk])).status_code == 404
    assert client.get(reverse("deviations:new"), {"patient": patient.pk}).status_code == 404
    assert client.get(reverse("deviations:new"), {"patient": "x"}).status_code == 404
    client.force_login(data_manager)
    assert str(deviation) in client.get(reverse("deviations:list")).content.decode()
