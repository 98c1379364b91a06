"""No mail under a trial-wide lock: when randomization is refused inside secondary registration (no active
set-up, or a used-up block list), the data managers' alert goes out after the transaction, and its
configuration lock, ended."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection

from randomization import services as randomization_services
from randomization.exceptions import NotConfigured
from randomization.models import RandomizationConfig
from registration import services
from registration.models import SecondaryRegistration
from tests.factories import PASSWORD
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_alert_is_sent_after_the_rollback(site_a, coordinator_a, data_manager, monkeypatch):
    make_plans()
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
    RandomizationConfig.objects.update(active=False)
    sent_inside_transaction = []
    real_send = randomization_services._send

    def send(*args, **kwargs):
        sent_inside_transaction.append(connection.in_atomic_block)
        return real_send(*args, **kwargs)

    monkeypatch.setattr(randomization_services, "_send", send)
    mail.outbox.clear()
    with pytest.raises(NotConfigured):
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                    registration_date=JUDGED_ON + 86 * DAY)
    assert sent_inside_transaction == [False]
    assert [m.to for m in mail.outbox] == [[data_manager.email]]
    assert not SecondaryRegistration.objects.filter(patient=patient).exists()
