"""The data migrations of issue 14: meanings stored as text become codes where they match a known text (English
or Japanese), others stay as stored; allocations get the signature row of their secondary registration."""

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from oligami_site.models import Signature
from randomization.models import Allocation
from registration import services as registration_services
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)

MEANINGS = importlib.import_module("registration.migrations.0012_signature_meanings_as_codes")
SAFETY_MEANINGS = importlib.import_module("safety.migrations.0004_signature_meanings_as_codes")
LINK = importlib.import_module("registration.migrations.0013_allocations_point_at_their_signature")


@pytest.fixture(scope="module")
def state_apps(django_db_setup, django_db_blocker):
    """The models as the migrations see them (no simple-history signals: the migrations write history by hand)."""
    with django_db_blocker.unblock():
        loader = MigrationLoader(connection)
        return loader.project_state(("registration", "0013_allocations_point_at_their_signature")).apps


def _signature(user, meaning, kind="primary_registration"):
    return Signature.objects.create(user=user, printed_name="T", signed_at=timezone.now(), kind=kind, meaning=meaning,
                                    subject="x")


def test_known_texts_in_either_language_become_codes_others_stay(state_apps, coordinator_a):
    english = _signature(coordinator_a, "I confirm this patient meets all primary registration criteria")
    japanese = _signature(coordinator_a, "この患者が二次登録のすべての規準を満たしていることを確認します",
                          kind="secondary_registration")
    report = _signature(coordinator_a, "施設研究責任者として、この追加報告の内容を確認します", kind="safety_report")
    other = _signature(coordinator_a, "I confirm, in words of my own")
    MEANINGS.to_codes(state_apps, None)
    SAFETY_MEANINGS.to_codes(state_apps, None)
    for signature in (english, japanese, report, other):
        signature.refresh_from_db()
    assert english.meaning == "primary_registration_confirm"
    assert japanese.meaning == "secondary_registration_confirm"
    assert report.meaning == "safety_followup_report_confirm"
    assert other.meaning == "I confirm, in words of my own"
    # The history keeps the text the row had, and says why it changed.
    rows = list(Signature.history.filter(id=japanese.pk).order_by("history_id"))
    assert [r.meaning for r in rows] == ["この患者が二次登録のすべての規準を満たしていることを確認します",
                                         "secondary_registration_confirm"]
    assert rows[-1].history_change_reason == MEANINGS.REASON and rows[-1].history_type == "~"
    assert not Signature.history.filter(id=other.pk, history_change_reason=MEANINGS.REASON).exists()


def test_allocations_get_the_signature_row_of_their_secondary_registration(state_apps, coordinator_a, investigator_a,
                                                                          site_a):
    make_plans()
    minimization_config()
    signed = []
    for _ in range(2):
        patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
        record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
        signed.append(registration_services.register_secondary(
            patient=patient, user=coordinator_a, password=PASSWORD, registration_date=JUDGED_ON + 86 * DAY))
    Allocation.objects.update(signature=None)  # audit-ok: the allocations as they were before the migration
    # One whose user is not its secondary registration's signer: no matching row, so none is invented.
    Allocation.objects.filter(patient=signed[1].patient).update(user=investigator_a)  # audit-ok: made up
    LINK.link(state_apps, None)
    matched, unmatched = (Allocation.objects.get(patient=s.patient) for s in signed)
    assert matched.signature_id == signed[0].signature_id
    assert matched.history.first().history_change_reason == LINK.REASON
    assert unmatched.signature_id is None
    assert not unmatched.history.filter(history_change_reason=LINK.REASON).exists()
