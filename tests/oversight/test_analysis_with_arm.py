"""Issue 16 with blinding: the statistician's analysis data set has the allocated arm beside the endpoint
columns; the data managers' has no arm; nobody else gets it."""

import csv
import io

import pytest
from django.urls import reverse

from randomization.models import Allocation
from tests.followup.factories import randomized_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(db):
    from tests.registration.factories import make_plans

    return make_plans()


@pytest.fixture(autouse=True)
def _randomization_set_up(db):
    from tests.randomization.factories import minimization_config

    return minimization_config()


def rows_of(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_statistician_gets_arm_with_endpoints_and_nobody_else(client, plans, site_a, coordinator_a, data_manager,
                                                              statistician, monitor_a):
    patient = randomized_patient(site_a, coordinator_a, arm="B")
    url = reverse("oversight:export_analysis_with_arm")
    client.force_login(statistician)
    response = client.get(url)
    assert response.status_code == 200
    rows = rows_of(response)
    from oversight.exports import analysis_id

    [row] = [r for r in rows if r["analysis_id"] == analysis_id(patient.pk)]
    assert row["arm"] == Allocation.objects.get(patient=patient).arm == "B"
    # No patient numbers for the statistician: a pseudonym instead (stable from one export to the next).
    assert "screening_number" not in row and "registration_number" not in row
    assert patient.screening_number not in b"".join(client.get(url).streaming_content).decode()
    assert "os_days" in row and "pfs_days" in row
    assert 'id="analysis-with-arm"' in client.get(reverse("home")).content.decode()
    client.force_login(data_manager)
    assert client.get(url).status_code == 403
    assert "arm" not in rows_of(client.get(reverse("oversight:export_analysis")))[0]
    for user in (coordinator_a, monitor_a):
        client.force_login(user)
        assert client.get(url).status_code == 403
