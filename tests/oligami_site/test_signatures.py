"""The core's e-signatures (oligami_site.signatures): declared kinds and meanings, the password check with
the recent-failure lock, the signature row, failures counted after the refused transaction rolled back, and
the meaning shown in the reader's language whatever the signer's."""

import datetime as dt

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from oligami_site import reasons, signatures
from oligami_site.models import AccessEvent, Signature, SignatureFailure
from oligami_site.signatures import SignatureRefused
from randomization.models import Allocation
from registration import services as registration_services
from screening.models import Patient
from tests.factories import PASSWORD, PatientFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)

KIND, MEANING = registration_services.PRIMARY_KIND, registration_services.PRIMARY_MEANING
EN = "I confirm this patient meets all primary registration criteria"
JA = "この患者が一次登録のすべての規準を満たしていることを確認します"


def test_every_app_declares_what_it_signs():
    kinds = dict(signatures.kind_choices())
    assert {"primary_registration", "secondary_registration", "safety_report", "data_lock"} <= set(kinds)
    with translation.override("en"):
        assert signatures.kind_label("data_lock") == "Data lock"
        assert signatures.meaning_text("safety_first_report_confirm").startswith("I confirm this first expedited")
    # Declaring the same code again is harmless; with another text it is a mistake.
    signatures.register(kinds={KIND: registration_services.SIGNATURE_KINDS[KIND]})
    with pytest.raises(ImproperlyConfigured):
        signatures.register(meanings={MEANING: "something else"})


def test_sign_writes_the_row_with_a_code_and_refuses_undeclared_codes(coordinator_a):
    with pytest.raises(ImproperlyConfigured):
        signatures.sign(user=coordinator_a, kind="no_such_kind", meaning=MEANING, subject="x")
    with pytest.raises(ImproperlyConfigured):
        signatures.sign(user=coordinator_a, kind=KIND, meaning="I confirm in my own words", subject="x")
    signature = signatures.sign(user=coordinator_a, password=PASSWORD, kind=KIND, meaning=MEANING, subject="S / T")
    signature.refresh_from_db()
    assert (signature.kind, signature.meaning, signature.subject) == (KIND, MEANING, "S / T")
    assert signature.printed_name == coordinator_a.printed_name and signature.user == coordinator_a
    history = signature.history.get()
    assert history.history_user == coordinator_a and history.history_change_reason == f"Signed: {MEANING}"
    assert Signature._meta.db_table == "registration_signature"  # the table registration created, kept


def test_check_password_refuses_inactive_wrong_and_locked(coordinator_a):
    with pytest.raises(SignatureRefused) as refused:
        signatures.check_password(coordinator_a, "wrong")
    assert refused.value.code == "wrong_password"
    for _ in range(signatures.FAILURE_LIMIT):
        SignatureFailure.objects.create(user=coordinator_a, attempted_at=timezone.now(), kind=KIND)
    with pytest.raises(SignatureRefused) as refused:  # even the right password, until the period passes
        signatures.check_password(coordinator_a, PASSWORD)
    assert refused.value.code == "signature_locked"
    SignatureFailure.objects.update(attempted_at=timezone.now() - signatures.FAILURE_PERIOD)
    signatures.check_password(coordinator_a, PASSWORD)
    coordinator_a.is_active = False
    with pytest.raises(SignatureRefused) as refused:
        signatures.check_password(coordinator_a, PASSWORD)
    assert refused.value.code == "inactive_user"


def test_a_wrong_password_is_counted_after_the_refused_transaction_rolled_back(rf, coordinator_a, site_a):
    patient = PatientFactory(site=site_a)

    @transaction.atomic
    def service(*, user, patient, password):
        Patient.objects.filter(pk=patient).update(stage=Patient.Stage.SCREEN_FAILED)  # audit-ok: rolled back
        signatures.sign(user=user, password=password, kind=KIND, meaning=MEANING, subject="x")

    request = rf.post("/", REMOTE_ADDR="192.0.2.9")
    request.user = coordinator_a
    with pytest.raises(SignatureRefused):
        signatures.counting_failures(service, kind=KIND, user=coordinator_a, patient=patient.pk, request=request,
                                     password="wrong")
    assert Patient.objects.get(pk=patient.pk).stage == patient.stage  # nothing of the refused service stays
    failure = SignatureFailure.objects.get()
    assert (failure.user, failure.kind, failure.patient_id, failure.ip_address) == (
        coordinator_a, KIND, patient.pk, "192.0.2.9")
    assert failure.history.get().history_change_reason == "Wrong signature password"
    assert AccessEvent.objects.filter(kind="signature_failed", username="crc_a").count() == 1
    assert not Signature.objects.exists()
    # Other refusals (here: locked for too many failures) are not counted again.
    SignatureFailure.objects.bulk_create([SignatureFailure(user=coordinator_a, attempted_at=timezone.now(), kind=KIND)
                                          for _ in range(signatures.FAILURE_LIMIT)])
    with pytest.raises(SignatureRefused):
        signatures.counting_failures(service, kind=KIND, user=coordinator_a, patient=patient.pk, password=PASSWORD)
    assert SignatureFailure.objects.count() == signatures.FAILURE_LIMIT + 1
    # The right password: the service's result, nothing counted.
    SignatureFailure.objects.update(attempted_at=timezone.now() - signatures.FAILURE_PERIOD)
    signatures.counting_failures(service, kind=KIND, user=coordinator_a, patient=patient.pk, password=PASSWORD)
    assert Signature.objects.count() == 1 and SignatureFailure.objects.count() == signatures.FAILURE_LIMIT + 1


@pytest.mark.parametrize(("signed_in", "read_in", "expected", "not_expected"), [
    ("ja", "en", EN, JA),
    ("en", "ja", JA, EN),
])
def test_a_signature_reads_in_the_readers_language(rf, coordinator_a, signed_in, read_in, expected, not_expected):
    """Signed under one language, read under the other: the page's signature block, the reason on its history
    row and the admin show the reader's language (the meaning is stored as its code, not as the signer's text)."""
    with translation.override(signed_in):
        signature = signatures.sign(user=coordinator_a, password=PASSWORD, kind=KIND, meaning=MEANING, subject="x")
    signature = Signature.objects.get(pk=signature.pk)
    assert signature.meaning == MEANING
    with translation.override(read_in):
        html = render_to_string("oligami_site/_signature.html", {"signature": signature})
        assert expected in html and not_expected not in html
        assert expected in reasons.display(signature.history.get().history_change_reason)
        assert signatures.kind_label(signature.kind) == signature.get_kind_display()
        assert str(admin.site._registry[Signature].shown_meaning(signature)) == expected


def test_a_meaning_stored_as_text_is_shown_as_stored(coordinator_a):
    signature = Signature.objects.create(user=coordinator_a, printed_name="T", signed_at=timezone.now(), kind=KIND,
                                         meaning="Ich bestätige", subject="x")
    for language in ("en", "ja"):
        with translation.override(language):
            assert signature.meaning_text == "Ich bestätige"
            assert "Ich bestätige" in render_to_string("oligami_site/_signature.html", {"signature": signature})


@pytest.mark.parametrize(("signed_in", "read_in", "expected", "not_expected"), [
    ("ja", "en", "I confirm this patient meets all secondary registration criteria",
     "この患者が二次登録のすべての規準を満たしていることを確認します"),
    ("en", "ja", "この患者が二次登録のすべての規準を満たしていることを確認します",
     "I confirm this patient meets all secondary registration criteria"),
])
def test_the_pages_show_the_signature_row_in_the_readers_language(client, coordinator_a, site_a, signed_in, read_in,
                                                                  expected, not_expected):
    """Signed by a user working in one language, read by one in the other: the randomization result and its
    certificate show the allocation's signature row (the secondary registration's) in the reader's language."""
    make_plans()
    minimization_config()
    with translation.override(signed_in):
        patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
        record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
        secondary = registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                                             registration_date=JUDGED_ON + 86 * DAY)
    assert Allocation.objects.get(patient=patient).signature_id == secondary.signature_id
    coordinator_a.preferred_language = read_in
    coordinator_a.save()
    client.force_login(coordinator_a)
    with translation.override(signed_in):  # the page activates the reader's language; restored afterwards
        for url in (reverse("randomization:result", args=[patient.pk]),
                    reverse("registration:randomization_certificate", args=[patient.pk])):
            html = client.get(url).content.decode()
            assert expected in html and not_expected not in html, url
