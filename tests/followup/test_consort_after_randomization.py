"""CONSORT past randomization (FOLLOWUP.md): per arm received, discontinued, lost, withdrawn, analysed; drawn
in the reports' CONSORT diagram."""

import pytest
from django.urls import reverse

from followup import services
from followup.selectors import ArmFlow, after_randomization
from screening.models import Patient
from tests.followup.factories import day, randomized_patient

pytestmark = pytest.mark.django_db


def test_counts_per_arm_and_the_diagram(client, plans, site_a, coordinator_a, data_manager):
    a1 = randomized_patient(site_a, coordinator_a, arm="A")
    a2 = randomized_patient(site_a, coordinator_a, arm="A")
    b1 = randomized_patient(site_a, coordinator_a, arm="B")
    b2 = randomized_patient(site_a, coordinator_a, arm="B")
    services.record_contamination(patient=a2, user=coordinator_a,
                                  data={"date": day(20), "modality": "surgery", "reason": "Demo"})
    services.record_withdrawal(patient=a1, user=coordinator_a, data={"date": day(10), "kind": "all_data"})
    lesion = services.remaining_lesions(b1)[0]
    services.record_mdt(patient=b1, user=coordinator_a, data={
        "lesion": lesion.pk, "modality": "surgery", "start_date": day(14), "end_date": day(14),
        "completed_as_planned": True})
    services.record_withdrawal(patient=b2, user=coordinator_a, data={"date": day(5), "kind": "treatment"})
    services.confirm_lost_to_follow_up(patient=b2, user=data_manager)
    services.record_last_known_alive(patient=b1, user=coordinator_a, data={"date": day(30)})
    services.record_death(patient=b1, user=coordinator_a, data={"date": day(30), "cause": "other"})
    flows = after_randomization(Patient.objects.all())
    assert flows["A"] == ArmFlow(allocated=2, received=1, discontinued=0, lost=0, withdrawn=1, analysed=2)
    assert flows["B"] == ArmFlow(allocated=2, received=1, discontinued=1, lost=1, withdrawn=0, analysed=2)
    client.force_login(data_manager)
    html = client.get(reverse("oversight:reports")).content.decode()
    assert "Lost to follow-up: n = 1" in html and "Analysed: n = 2" in html and " style=" not in html
