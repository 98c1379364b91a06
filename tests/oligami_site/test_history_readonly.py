"""History everywhere, and read-only everywhere: every clinical and configuration model is audited, its
foreign keys protect it from deletion, no role may add, change or delete a historical record, the
historical models have no admin pages, and the admin's history views never revert (not even for a
superuser, not even by a hand-made POST)."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from oligami_site.access import TrialRole
from oligami_site.models import Site
from screening.models import LabPanel
from tests.factories import LabPanelFactory, UserFactory

pytestmark = pytest.mark.django_db
APPS = ("oligami_site", "screening", "registration", "randomization")
# Models deliberately without a history table, and why.
NOT_AUDITED = {
    "oligami_site.AccessEvent": "itself an append-only audit record, read-only everywhere",
    "oligami_site.Counter": "a technical counter (numbering); the numbers it hands out are audited",
    "oligami_site.DataVersion": "a cache counter moved after every audited commit (auditing it would move it again)",
    "oligami_site.DataChange": "what moved the cache counter, written with it (a technical log, pruned as it grows)",
    "randomization.AllocationTally": "derived counts of the audited allocations; verify_allocations recounts them",
    "registration.Notice": "reminder outbox (technical, not clinical)",
    "registration.Digest": "reminder outbox (technical, not clinical)",
    "registration.ReminderRun": "the reminder job's daily completion mark (technical, not clinical)",
    "registration.CalendarToken": "calendar subscription token (technical, not clinical)",
}


def _trial_models():
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            if model.__name__.startswith("Historical") or model._meta.auto_created:
                continue
            yield model


def _is_audited(model) -> bool:
    return getattr(model._meta, "simple_history_manager_attribute", None) is not None


def _historical_models():
    return [m for app in APPS for m in apps.get_app_config(app).get_models() if m.__name__.startswith("Historical")]


def test_every_clinical_and_configuration_model_has_history():
    missing = [m._meta.label for m in _trial_models() if not _is_audited(m) and m._meta.label not in NOT_AUDITED]
    assert not missing, f"models without HistoricalRecords: {missing}"
    assert len(_historical_models()) >= 15


def test_audited_records_cannot_be_deleted_through_a_foreign_key():
    loose = [f"{m._meta.label}.{f.name}" for m in _trial_models() if _is_audited(m)
             for f in m._meta.get_fields()
             if isinstance(f, models.ForeignKey) and f.remote_field.on_delete is not models.PROTECT]
    assert not loose, f"foreign keys that would cascade or nullify on delete: {loose}"


@pytest.fixture
def every_role_user(site_a, coordinator_a, investigator_a, monitor_a, data_manager, statistician):
    return [coordinator_a, investigator_a, monitor_a, data_manager, statistician]


def test_no_role_may_add_change_or_delete_a_historical_record(every_role_user):
    for group in Group.objects.filter(name__in=TrialRole.ALL):
        granted = [p.codename for p in group.permissions.all()
                   if p.content_type.model.startswith("historical") and not p.codename.startswith("view_")]
        assert not granted, (group.name, granted)
    for model in _historical_models():
        opts = model._meta
        for user in every_role_user:
            user = type(user).objects.get(pk=user.pk)  # fresh permission cache
            for action in ("add", "change", "delete"):
                assert not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"), (user, action, opts.label)


def test_history_settings_forbid_revert_and_edit():
    assert settings.SIMPLE_HISTORY_REVERT_DISABLED is True
    assert not getattr(settings, "SIMPLE_HISTORY_EDIT", False)


def test_historical_models_have_no_admin_pages(client):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    for model in _historical_models():
        assert not admin.site.is_registered(model), model
        for action in ("change", "delete", "history"):
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/1/{action}/"
            assert client.get(url).status_code == 404, url
            assert client.post(url, {"post": "yes"}).status_code == 404, url


def test_nothing_audited_can_be_deleted_in_the_admin():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(username="root", is_superuser=True, is_staff=True)
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in APPS and _is_audited(model):
            assert not model_admin.has_delete_permission(request), model
            assert "delete_selected" not in model_admin.get_actions(request), model


def _history_form_url(obj, history_row):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, history_row.history_id])


def test_superuser_cannot_revert_configuration_from_the_history_view(client):
    site = Site.objects.create(code="REVERT", name_en="Before", name_ja="前")
    site.name_en = "After"
    site._change_reason = "Renamed"
    site.save()
    old = site.history.earliest()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    url = _history_form_url(site, old)
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode() and "Revert" not in page.content.decode()
    response = client.post(url, {"code": "REVERT", "name_en": "Before", "name_ja": "前", "active": "on",
                                 "change_reason": "revert", "_change_history": "1", "_save": "Save"})
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.name_en == "After" and site.history.count() == 2


def test_view_only_staff_cannot_revert_a_clinical_record_by_posting_to_the_history_view(client, data_manager):
    """simple-history saves a POST to its history form view for anyone who may *view* the model: a data
    manager (view permission only) must not be able to put old lab values back that way."""
    panel = LabPanelFactory(creatinine=Decimal("0.70"))
    panel.creatinine = Decimal("1.50")
    panel._change_reason = "Corrected"
    panel.save()
    old = panel.history.earliest()
    client.force_login(data_manager)
    url = _history_form_url(panel, old)
    assert client.get(url).status_code == 200
    # A complete form: without the override, simple-history saves it (302) and the creatinine is 0.70 again.
    post = {"patient": panel.patient_id, "date": "2026-02-24", "creatinine": "0.70", "change_reason": "revert",
            "_save": "Save"}
    assert client.post(url, post).status_code == 403
    assert LabPanel.objects.get(pk=panel.pk).creatinine == Decimal("1.50")
    assert panel.history.count() == 2


def test_data_manager_reads_history_in_the_admin(client, data_manager):
    panel = LabPanelFactory()
    client.force_login(data_manager)
    response = client.get(reverse("admin:screening_labpanel_history", args=[panel.pk]))
    assert response.status_code == 200


def test_data_manager_permissions_cover_the_console(data_manager):
    """The data manager may view every clinical model in the admin (the console), never the list slots."""
    user = type(data_manager).objects.get(pk=data_manager.pk)
    for label in ("screening.view_patient", "screening.view_labpanel", "registration.view_offstudy",
                  "randomization.view_allocation", "oligami_site.view_accessevent"):
        assert user.has_perm(label), label
    assert not user.has_perm("randomization.view_blocklistentry")
    concealed = ["blocklistentry", "historicalblocklistentry"]
    assert not Permission.objects.filter(group__name=TrialRole.DATA_MANAGER, content_type__model__in=concealed).exists()
