"""The demo data of issue 17: a pending site, a site closed to accrual with patients in follow-up, and a
superseded consent document version with exactly one patient awaiting re-consent; a second run changes
nothing."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from followup import reconsent
from oligami_site.models import EnrolmentRequest, Site
from screening.models import ConsentDocument, Patient, Reconsent

pytestmark = pytest.mark.django_db


def state():
    return (list(Site.objects.order_by("code").values_list("code", "status")),
            list(ConsentDocument.objects.values_list("version", "effective_date", "superseded_date")),
            Reconsent.objects.count(), Patient.objects.count(),
            list(Site.objects.order_by("code").values_list("code", "enrolment_cap")), EnrolmentRequest.objects.count())


def test_demo_sites_and_consent(settings):
    settings.OLIGAMI_DEMO_PASSWORD = "demo-password-for-tests"
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Site.objects.get(code="KYOTO").status == "pending" and not Patient.objects.filter(site__code="KYOTO")
    assert Site.objects.get(code="KYOTO").approval.missing == ("head_permission_date", "start_date")
    okayama = Site.objects.get(code="OKAYAMA")
    assert okayama.status == "closed_to_accrual"
    assert Patient.objects.filter(site=okayama, stage="randomized").count() >= 2
    old, new = ConsentDocument.objects.order_by("effective_date")
    assert old.superseded_date == new.effective_date <= timezone.localdate() and new.superseded_date is None
    awaiting = reconsent.awaiting(Patient.objects.all(), timezone.localdate())
    assert [(row.patient.site.code, row.patient.initials, row.version.version) for row in awaiting] == [
        ("OKAYAMA", "FC", "1.0")]
    assert Reconsent.objects.filter(document=new).exists()  # the others re-consented
    # One site at its enrolment cap, its coordinator's request waiting for the data centre (issue 17).
    capped = Site.objects.exclude(enrolment_cap=None).get()
    assert capped.code == "HIROSHIMA" and capped.enrolment_cap == Patient.objects.filter(site=capped).count() > 0
    assert EnrolmentRequest.objects.get().status == "pending" and "enrolment cap" in out.getvalue()
    first = state()
    call_command("seed_demo", stdout=io.StringIO())
    assert state() == first
