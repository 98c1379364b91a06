"""The admin console of the data managers: every model registered with list columns, filters and search,
history views; the allocation log read-only; the concealed list never registered; site staff who reach
the admin see their own sites only; list pages with bounded queries."""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oligami_site.models import (
    AccessEvent,
    Counter,
    EnrolmentRequest,
    Membership,
    Signature,
    SignatureFailure,
    Site,
    User,
)
from randomization.models import Allocation, BlockListEntry, ConfigChangeAttempt, RandomizationConfig
from registration import services as registration_services
from registration.models import (
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)
from screening.models import ConsentDocument, LabPanel, Lesion, Patient, Reconsent, Screening
from tests.factories import PASSWORD, MembershipFactory, ScreeningFactory, UserFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
CONSOLE = [Patient, Screening, Lesion, LabPanel, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration,
           OffStudy, Signature, SignatureFailure, TherapyPlan, Allocation, RandomizationConfig, ConfigChangeAttempt,
           Site, Membership, User, AccessEvent, ConsentDocument, Reconsent, EnrolmentRequest]
CLINICAL = [Patient, Screening, Lesion, LabPanel, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration,
            OffStudy, Signature, Allocation]


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_every_model_is_in_the_console_but_the_concealed_list():
    for model in CONSOLE:
        assert admin.site.is_registered(model), model
    assert not admin.site.is_registered(BlockListEntry)
    assert not admin.site.is_registered(Counter)
    for model in CLINICAL:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        if model is not Signature:
            assert model_admin.list_filter, model


@pytest.fixture
def two_sites(site_a, site_b, coordinator_a, coordinator_b):
    """At each site: a randomized patient (with every registration record), one off study, a screen failure."""
    make_plans()
    minimization_config()
    today = timezone.localdate()
    out = {}
    for site, user in ((site_a, coordinator_a), (site_b, coordinator_b)):
        patient = register(make_eligible_screening(site=site, on=today - 90 * DAY), user).patient
        record(patient, user, today - 2 * DAY, courses_given=3)
        registration_services.register_secondary(patient=patient, user=user, password=PASSWORD)
        off = register(make_eligible_screening(site=site, on=today - 10 * DAY), user).patient
        registration_services.take_off_study(patient=off, user=user, date=today, reason="death")
        ScreeningFactory(patient__site=site, outcome="not_eligible")
        out[site.code] = patient
    return out


def test_data_manager_lists_filters_and_searches_every_model(client, data_manager, two_sites, site_a):
    client.force_login(data_manager)
    number = two_sites["SITEA"].screening_number
    for model in CONSOLE:
        url = changelist(model)
        assert client.get(url).status_code == 200, url
        if admin.site._registry[model].search_fields:
            assert client.get(url, {"q": "SITEA"}).status_code == 200, url
    html = client.get(changelist(Patient), {"q": number}).content.decode()
    assert number in html and two_sites["SITEB"].screening_number not in html
    registration = PrimaryRegistration.objects.get(patient=two_sites["SITEA"])
    assert number in client.get(changelist(Patient), {"q": registration.number}).content.decode()
    assert client.get(changelist(Patient), {"site__id__exact": site_a.pk, "stage": "registered"}).status_code == 200
    assert client.get(changelist(PrimaryRegistration), {"subtype": "luminal"}).status_code == 200
    assert client.get(changelist(Allocation), {"arm": "A"}).status_code == 200
    assert client.get(changelist(Screening), {"outcome": "not_eligible"}).status_code == 200
    # Every clinical record opens read-only, with its history.
    for model in CLINICAL:
        obj = model.objects.first()
        opts = model._meta
        assert client.get(change(obj)).status_code == 200, model
        history = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
        assert client.get(history).status_code == 200, model


def test_allocation_log_and_access_events_are_read_only(client, data_manager, two_sites):
    AccessEvent.objects.create(kind=AccessEvent.Kind.LOGIN, username="x")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    allocation = Allocation.objects.first()
    for user in (data_manager, root):
        client.force_login(user)
        assert client.get(change(allocation)).status_code == 200
        assert client.post(change(allocation), {"arm": "B" if allocation.arm == "A" else "A"}).status_code == 403
        assert client.get(reverse("admin:randomization_allocation_add")).status_code == 403
        assert client.get(reverse("admin:oligami_site_accessevent_add")).status_code == 403
        event = AccessEvent.objects.first()
        assert client.post(change(event), {"kind": "logout"}).status_code == 403
    assert Allocation.objects.get(pk=allocation.pk).arm == allocation.arm


@pytest.fixture
def staff_coordinator(site_a):
    """A coordinator of site A who reaches the admin with view permissions on every clinical model."""
    user = UserFactory(username="crc_staff", is_staff=True)
    MembershipFactory(user=user, site=site_a, role="coordinator")
    labels = [(m._meta.app_label, m._meta.model_name) for m in [*CLINICAL, SignatureFailure, Site, Membership]]
    for app_label, model_name in labels:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                         codename=f"view_{model_name}"))
    return User.objects.get(pk=user.pk)


def test_site_staff_in_the_admin_see_only_their_sites(client, staff_coordinator, two_sites):
    client.force_login(staff_coordinator)
    mine, theirs = two_sites["SITEA"], two_sites["SITEB"]
    for model in CLINICAL:
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        shown = list(response.context["cl"].result_list)
        assert shown, model
        for obj in shown:
            assert _site_code(obj) == "SITEA", (model, obj)
    assert [s.code for s in client.get(changelist(Site)).context["cl"].result_list] == ["SITEA"]
    assert {m.site.code for m in client.get(changelist(Membership)).context["cl"].result_list} == {"SITEA"}
    # Another site's records: not found, also by their history.
    panel = LabPanel.objects.filter(patient=theirs).first()
    for obj in (theirs, panel, PrimaryRegistration.objects.get(patient=theirs)):
        opts = obj._meta
        assert client.get(change(obj)).status_code == 302  # the admin: "doesn't exist", back to the index
        history = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
        assert client.get(history).status_code == 404
        row = obj.history.first()
        form = reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, row.history_id])
        assert client.get(form).status_code == 404
    assert client.get(change(mine)).status_code == 200
    assert not list(client.get(changelist(Patient), {"q": theirs.screening_number}).context["cl"].result_list)


def _site_code(obj):
    if isinstance(obj, Signature):
        return obj.subject.split(" / ")[1].split("-")[0]
    if isinstance(obj, Lesion):
        return obj.screening.patient.site.code
    return (obj.site if isinstance(obj, Patient) else obj.patient.site).code


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_console_lists_have_bounded_queries(client, data_manager, site_a, django_assert_max_num_queries):
    make_plans()
    client.force_login(data_manager)
    register(make_eligible_screening(site=site_a, on=dt.date(2026, 3, 2)), data_manager_site_user(site_a))
    few = {model: _count(client, changelist(model)) for model in CLINICAL}
    user = data_manager_site_user(site_a)
    for _n in range(25):
        register(make_eligible_screening(site=site_a, on=dt.date(2026, 3, 2)), user)
    for model in CLINICAL:
        with django_assert_max_num_queries(few[model]):
            client.get(changelist(model))


def data_manager_site_user(site):
    return Membership.objects.filter(site=site, role="coordinator").first().user if Membership.objects.filter(
        site=site, role="coordinator").exists() else MembershipFactory(site=site, role="coordinator").user
