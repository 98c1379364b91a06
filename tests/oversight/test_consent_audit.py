"""Each patient's consents (issue 17) in the admin, on her audit trail and in the trial-wide audit search, with
their history rows: the screening's consent date and version, each re-consent, the consent document versions,
and the sites' enrolment requests in the search."""

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse

from oligami_site import enrolment
from oversight import audit_search, trail
from screening import consents
from screening.models import ConsentDocument, Reconsent
from tests.factories import initial_consent_version
from tests.followup.factories import randomized_patient
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_plans

pytestmark = pytest.mark.django_db
V2_ON = dt.date(2026, 6, 1)


@pytest.fixture
def reconsented(site_a, coordinator_a, data_manager):
    """A randomized patient of site A on version 1.0, re-consented on 2.0."""
    make_plans()
    minimization_config()
    initial_consent_version()
    v2 = consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason="Revised")
    patient = randomized_patient(site_a, coordinator_a)
    consents.record_reconsent(patient=patient, document=v2, date=V2_ON + dt.timedelta(days=9), user=coordinator_a,
                              reason="Re-consented at the visit")
    return patient


def test_consent_records_are_in_the_admin_read_only_with_their_history(client, reconsented, data_manager):
    for model in (ConsentDocument, Reconsent):
        assert admin.site.is_registered(model)
    client.force_login(data_manager)
    record = Reconsent.objects.get()
    opts = Reconsent._meta
    listed = client.get(reverse("admin:screening_reconsent_changelist")).content.decode()
    assert reconsented.screening_number in listed and "2.0" in listed
    assert client.get(reverse("admin:screening_reconsent_change", args=[record.pk])).status_code == 200
    history = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[record.pk]))
    assert history.status_code == 200 and "Re-consented at the visit" in history.content.decode()
    assert client.post(reverse("admin:screening_reconsent_change", args=[record.pk]), {"date": "2026-07-01"}
                       ).status_code == 403
    assert client.get(reverse("admin:screening_reconsent_add")).status_code == 403
    assert client.get(reverse("admin:screening_consentdocument_changelist")).status_code == 200
    patient_page = client.get(reverse("admin:screening_patient_change", args=[reconsented.pk])).content.decode()
    # Her consents in order: the screening's (date, version), then the re-consent.
    assert "2026-02-20 · 1.0 (screening 1)" in patient_page and "2026-06-10 · 2.0 (re-consent)" in patient_page
    screenings = client.get(reverse("admin:screening_screening_changelist")).content.decode()
    assert "1.0" in screenings


def test_site_staff_in_the_admin_see_only_their_sites_reconsents(client, reconsented, site_b):
    from django.contrib.auth.models import Permission

    from oligami_site.models import User
    from tests.factories import MembershipFactory, UserFactory

    staff = UserFactory(username="crc_b_staff", is_staff=True)  # staff: with the second factor (factories)
    MembershipFactory(user=staff, site=site_b, role="coordinator")
    staff.user_permissions.add(Permission.objects.get(codename="view_reconsent"))
    client.force_login(User.objects.get(pk=staff.pk))
    listed = client.get(reverse("admin:screening_reconsent_changelist"))
    assert listed.status_code == 200 and reconsented.screening_number not in listed.content.decode()
    record = Reconsent.objects.get()
    assert client.get(reverse("admin:screening_reconsent_history", args=[record.pk])).status_code == 404


def test_the_trail_shows_her_consents_with_their_versions(client, reconsented, coordinator_a):
    found = trail.trail_for(reconsented)
    screening = [e for e in found.entries if e.record_type == "screening" and e.kind == "+"][0]
    consent = {c.field: c.new for c in screening.changes}
    assert consent["consent document version"] == "version 1.0" and consent["written informed consent"] == "2026-02-20"
    [entry] = [e for e in found.entries if e.record_type == "reconsent"]
    changes = {c.field: c.new for c in entry.changes}
    assert changes == {"consent document version": "version 2.0", "re-consent date": "2026-06-10",
                       "created": changes["created"]}
    assert (entry.user.endswith(f"({coordinator_a.username})"), entry.reason) == (True, "Re-consented at the visit")
    assert ("reconsent", "Re-consent") in [(k, str(v)) for k, v in found.record_types]
    client.force_login(coordinator_a)
    page = client.get(reverse("oversight:trail", args=[reconsented.pk]), {"record": "reconsent"}).content.decode()
    assert "Re-consent #" in page and "version 2.0" in page and "Re-consented at the visit" in page


def test_the_audit_search_finds_consents_versions_and_enrolment_requests(client, reconsented, site_a,
                                                                          coordinator_a, data_manager):
    hits, _cut = audit_search.search(record_type="reconsent")
    assert [(h.record_type, h.patient_number, h.reason) for h in hits] == [
        ("reconsent", reconsented.screening_number, "Re-consented at the visit")]
    hits, _cut = audit_search.search(patient_ids={reconsented.pk})
    assert "reconsent" in {h.record_type for h in hits}
    hits, _cut = audit_search.search(record_type="consentdocument")
    assert {h.reason for h in hits} >= {"Revised"}
    enrolment.set_cap(site=site_a, cap=1, user=data_manager, reason="Planned accrual")
    enrolment.request_more(site=site_a, user=coordinator_a)
    hits, _cut = audit_search.search(record_type="enrolmentrequest")
    assert [h.reason for h in hits] == ["Enrolment request sent"]
    client.force_login(data_manager)
    page = client.get(reverse("oversight:audit_search"), {"record": "reconsent"}).content.decode()
    assert reverse("oversight:trail", args=[reconsented.pk]) + "?record=reconsent" in page
    page = client.get(reverse("oversight:audit_search"), {"record": "enrolmentrequest"})
    assert page.status_code == 200 and "Enrolment request sent" in page.content.decode()
