"""Issue 13, high: privilege escalation through the admin console, closed.

- Separation of duties: only a trial administrator (superuser) creates accounts, grants roles (groups,
  memberships, is_superuser / is_staff, permissions), sets passwords and manages two-factor devices in the
  admin; data managers read users and memberships; nobody grants a role to themself; no account holds a
  trial-wide role and a site role that signs at the same time (oligami_site.duties), whatever the path.
- Role grants are audited: the user's history holds its groups, with who, when and the reason asked by
  the admin.

Each test replays an attack of the outside security test (or its superuser variant) and checks that it
is refused and that nothing changed.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from oligami_site import duties
from oligami_site.access import TrialRole
from oligami_site.exceptions import DomainError
from oligami_site.models import Membership, User
from tests.factories import PASSWORD, UserFactory, confirmed_totp_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def user_change(user):
    return reverse("admin:oligami_site_user_change", args=[user.pk])


def user_post(user, **changes):
    """The user admin's change form as a browser posts it, with `changes` applied."""
    user.refresh_from_db()
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "preferred_language": user.preferred_language,
        "date_joined_0": timezone.localtime(user.date_joined).strftime("%Y-%m-%d"),
        "date_joined_1": timezone.localtime(user.date_joined).strftime("%H:%M:%S"),
        "groups": [str(g) for g in user.groups.values_list("pk", flat=True)],
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    }
    memberships = list(user.memberships.order_by("pk"))
    data["memberships-TOTAL_FORMS"] = data["memberships-INITIAL_FORMS"] = str(len(memberships))
    for i, m in enumerate(memberships):
        data.update({f"memberships-{i}-id": str(m.pk), f"memberships-{i}-user": str(user.pk),
                     f"memberships-{i}-site": str(m.site_id), f"memberships-{i}-role": m.role})
        if m.active:
            data[f"memberships-{i}-active"] = "on"
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def group(name):
    return Group.objects.get(name=name)


def roles_of(user):
    user = User.objects.get(pk=user.pk)
    return (user.is_superuser, user.is_staff, sorted(user.groups.values_list("name", flat=True)),
            sorted(user.user_permissions.values_list("codename", flat=True)),
            sorted(user.memberships.values_list("site__code", "role", "active")))


# --- data managers: read-only on accounts and roles --------------------------------------------------


@pytest.mark.parametrize("target", ["self", "other"])
def test_data_manager_cannot_make_anyone_superuser(client, data_manager, coordinator_a, target):
    user = data_manager if target == "self" else coordinator_a
    before = roles_of(user)
    client.force_login(data_manager)
    page = client.get(user_change(user))
    assert page.status_code == 200  # read-only: the data manager sees the account
    assert 'name="_save"' not in page.content.decode() and 'name="is_superuser"' not in page.content.decode()
    response = client.post(user_change(user), user_post(user, is_superuser="on", is_staff="on",
                                                        change_reason="attack"))
    assert response.status_code == 403
    assert roles_of(user) == before


def test_data_manager_cannot_put_anyone_into_a_trial_wide_group(client, data_manager, no_role_user):
    before = roles_of(no_role_user)
    client.force_login(data_manager)
    for name in TrialRole.ALL:
        post = user_post(no_role_user, groups=[str(group(name).pk)], change_reason="attack")
        assert client.post(user_change(no_role_user), post).status_code == 403
    # Through the group's own page: neither its users nor its permissions.
    dm_group = group(TrialRole.DATA_MANAGER)
    url = reverse("admin:auth_group_change", args=[dm_group.pk])
    every = [str(p) for p in Permission.objects.values_list("pk", flat=True)]
    assert client.get(url).status_code == 403
    post = {"name": dm_group.name, "permissions": every, "users": [no_role_user.pk]}
    assert client.post(url, post).status_code == 403
    assert client.post(reverse("admin:auth_group_add"), {"name": "Escalated", "permissions": every}).status_code == 403
    assert roles_of(no_role_user) == before
    assert not Group.objects.filter(name="Escalated").exists()
    assert dm_group.permissions.count() < len(every)


def test_data_manager_cannot_set_a_password(client, data_manager, coordinator_a):
    client.force_login(data_manager)
    url = reverse("admin:auth_user_password_change", args=[coordinator_a.pk])
    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": "Taken-over-2026!", "password2": "Taken-over-2026!",
                                 "usable_password": "true", "change_reason": "attack"})
    assert response.status_code == 403
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password(PASSWORD)


def test_data_manager_cannot_create_accounts(client, data_manager):
    client.force_login(data_manager)
    url = reverse("admin:oligami_site_user_add")
    assert client.get(url).status_code == 403
    post = {"username": "sleeper", "password1": "Sleeper-agent-2026!", "password2": "Sleeper-agent-2026!",
            "usable_password": "true"}
    assert client.post(url, post).status_code == 403
    assert not User.objects.filter(username="sleeper").exists()


def test_data_manager_cannot_give_themself_a_site_role(client, data_manager, site_a, coordinator_a):
    client.force_login(data_manager)
    add = reverse("admin:oligami_site_membership_add")
    assert client.get(add).status_code == 403
    for role in Membership.Role.values:
        post = {"user": data_manager.pk, "site": site_a.pk, "role": role, "active": "on"}
        assert client.post(add, post).status_code == 403
    assert not data_manager.memberships.exists()
    # Nor take over someone else's membership, nor through the user's inline.
    membership = Membership.objects.get(user=coordinator_a)
    change = reverse("admin:oligami_site_membership_change", args=[membership.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    post = {"user": data_manager.pk, "site": site_a.pk, "role": "coordinator", "active": "on",
            "change_reason": "attack"}
    assert client.post(change, post).status_code == 403
    inline = user_post(data_manager, **{"memberships-TOTAL_FORMS": "1", "memberships-0-site": str(site_a.pk),
                                        "memberships-0-role": "coordinator", "memberships-0-active": "on",
                                        "change_reason": "attack"})
    assert client.post(user_change(data_manager), inline).status_code == 403
    assert Membership.objects.get(pk=membership.pk).user_id == coordinator_a.pk
    assert not data_manager.memberships.exists()


def test_data_manager_cannot_manage_two_factor_devices(client, data_manager, coordinator_a):
    device = confirmed_totp_device(coordinator_a)
    client.force_login(data_manager)
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    assert client.post(reverse("admin:otp_totp_totpdevice_add"),
                       {"user": data_manager.pk, "name": "mine", "confirmed": "on"}).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).status_code == 403
    assert client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]),
                       {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert not TOTPDevice.objects.filter(user=data_manager, name="mine").exists()


def test_granted_permissions_do_not_open_account_administration(client, data_manager, no_role_user, site_a):
    """Defence in depth: even a data manager whom someone gave Django's add/change permissions on users,
    memberships, groups and devices cannot use them: these pages ask for the trial administrator."""
    for codename in ("add_user", "change_user", "add_membership", "change_membership", "change_group",
                     "add_group", "add_totpdevice", "change_totpdevice", "delete_totpdevice"):
        data_manager.user_permissions.add(Permission.objects.get(codename=codename))
    data_manager = User.objects.get(pk=data_manager.pk)
    client.force_login(data_manager)
    before = roles_of(no_role_user)
    assert client.post(user_change(no_role_user), user_post(no_role_user, is_superuser="on",
                                                            change_reason="attack")).status_code == 403
    assert client.post(reverse("admin:oligami_site_membership_add"),
                       {"user": data_manager.pk, "site": site_a.pk, "role": "coordinator",
                        "active": "on"}).status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[no_role_user.pk])).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    assert roles_of(no_role_user) == before and not data_manager.memberships.exists()


# --- nobody grants a role to themself -----------------------------------------------------------------


def test_superuser_cannot_change_their_own_roles(client, root, site_a):
    client.force_login(root)
    before = roles_of(root)
    for changes in ({"groups": [str(group(TrialRole.STATISTICIAN).pk)]}, {"is_superuser": None},
                    {"user_permissions": [str(Permission.objects.get(codename="add_site").pk)]}):
        response = client.post(user_change(root), user_post(root, change_reason="self-service", **changes))
        assert response.status_code == 200, changes
        assert "You cannot change your own roles" in response.content.decode()
    inline = user_post(root, **{"memberships-TOTAL_FORMS": "1", "memberships-0-site": str(site_a.pk),
                                "memberships-0-role": "monitor", "memberships-0-active": "on",
                                "change_reason": "self-service"})
    response = client.post(user_change(root), inline)
    assert response.status_code == 200 and "You cannot grant yourself a role" in response.content.decode()
    response = client.post(reverse("admin:oligami_site_membership_add"),
                           {"user": root.pk, "site": site_a.pk, "role": "monitor", "active": "on"})
    assert response.status_code == 200 and "You cannot grant yourself a role" in response.content.decode()
    assert roles_of(root) == before
    # Their own name and e-mail are theirs to correct.
    response = client.post(user_change(root), user_post(root, first_name="Rooted", change_reason="Typo"))
    assert response.status_code == 302 and User.objects.get(pk=root.pk).first_name == "Rooted"


# --- no trial-wide role and a signing site role on one account ---------------------------------------


def test_a_signing_site_user_cannot_also_be_given_a_trial_wide_role(client, root, coordinator_a, investigator_a):
    client.force_login(root)
    for user in (coordinator_a, investigator_a):
        before = roles_of(user)
        for name in TrialRole.ALL:
            response = client.post(user_change(user), user_post(user, groups=[str(group(name).pk)],
                                                                change_reason="Appointed"))
            assert response.status_code == 200
            assert "cannot hold a trial-wide role and a site role that signs" in response.content.decode()
        response = client.post(user_change(user), user_post(user, is_superuser="on", change_reason="Appointed"))
        assert response.status_code == 200
        assert roles_of(user) == before


def test_a_trial_wide_user_cannot_also_be_given_a_signing_site_role(client, root, data_manager, statistician,
                                                                    site_a):
    client.force_login(root)
    for user in (data_manager, statistician):
        for role in ("coordinator", "investigator"):
            response = client.post(reverse("admin:oligami_site_membership_add"),
                                   {"user": user.pk, "site": site_a.pk, "role": role, "active": "on"})
            assert response.status_code == 200, (user, role)
            assert "cannot hold a trial-wide role and a site role that signs" in response.content.decode()
            inline = user_post(user, **{"memberships-TOTAL_FORMS": "1", "memberships-0-site": str(site_a.pk),
                                        "memberships-0-role": role, "memberships-0-active": "on",
                                        "change_reason": "Appointed"})
            response = client.post(user_change(user), inline)
            assert response.status_code == 200
            assert "cannot hold a trial-wide role and a site role that signs" in response.content.decode()
        assert not user.memberships.exists()
    # A monitor does not sign: a data manager may also monitor a site.
    response = client.post(reverse("admin:oligami_site_membership_add"),
                           {"user": data_manager.pk, "site": site_a.pk, "role": "monitor", "active": "on"})
    assert response.status_code == 302 and data_manager.memberships.get().role == "monitor"


def test_a_role_and_a_signing_membership_in_one_save_are_refused(client, root, no_role_user, site_a):
    """The group and the membership arrive in the same form: each check alone would see the other missing."""
    client.force_login(root)
    post = user_post(no_role_user, groups=[str(group(TrialRole.DATA_MANAGER).pk)],
                     **{"memberships-TOTAL_FORMS": "1", "memberships-0-site": str(site_a.pk),
                        "memberships-0-role": "coordinator", "memberships-0-active": "on",
                        "change_reason": "New starter"})
    response = client.post(user_change(no_role_user), post)
    assert response.status_code == 200
    assert "cannot hold a trial-wide role and a site role that signs" in response.content.decode()
    assert roles_of(no_role_user) == (False, False, [], [], [])


def test_an_ended_signing_membership_does_not_block_a_trial_wide_role(client, root, coordinator_a):
    Membership.objects.filter(user=coordinator_a).update(active=False)
    client.force_login(root)
    response = client.post(user_change(coordinator_a), user_post(
        coordinator_a, groups=[str(group(TrialRole.DATA_MANAGER).pk)], change_reason="Moved to the data centre"))
    assert response.status_code == 302
    assert roles_of(coordinator_a)[2] == [TrialRole.DATA_MANAGER]
    # ...and the membership cannot come back while the role is held.
    membership = Membership.objects.get(user=coordinator_a)
    response = client.post(reverse("admin:oligami_site_membership_change", args=[membership.pk]),
                           {"user": coordinator_a.pk, "site": membership.site_id, "role": "coordinator",
                            "active": "on", "change_reason": "Back"})
    assert response.status_code == 200 and not Membership.objects.get(pk=membership.pk).active


def test_every_other_path_is_refused_too(coordinator_a, data_manager, site_b):
    """Shell, a future page, a data fix: the model layer refuses what the admin forms refuse."""
    refused = pytest.raises(DomainError, match="cannot hold a trial-wide role")
    with refused, transaction.atomic():
        coordinator_a.groups.add(group(TrialRole.STATISTICIAN))
    with refused, transaction.atomic():
        group(TrialRole.DATA_MANAGER).user_set.add(coordinator_a)
    with refused, transaction.atomic():
        Membership.objects.create(user=data_manager, site=site_b, role="investigator")
    coordinator_a.is_superuser = True
    with refused, transaction.atomic():
        coordinator_a.save()
    assert roles_of(coordinator_a)[:3] == (False, False, [])
    assert not data_manager.memberships.exists()


def test_no_demo_account_holds_a_trial_wide_role_and_a_signing_site_role():
    from oligami_site.demo import seed_core

    seed_core("demo-password-for-tests")
    assert User.objects.filter(username__in=["dm", "stat", "crc_tmdu", "monitor"]).count() == 4
    assert duties.conflicts() == []


def test_the_database_check_names_an_account_that_breaks_the_rule(coordinator_a):
    from django.core.checks import run_checks

    assert not [e for e in run_checks(databases=["default"]) if e.id == "oligami.E013"]
    # A row written around the model layer (e.g. a restore of an old dump) is still found.
    through = User.groups.through
    through.objects.bulk_create([through(user_id=coordinator_a.pk, group_id=group(TrialRole.DATA_MANAGER).pk)])
    errors = [e for e in run_checks(databases=["default"]) if e.id == "oligami.E013"]
    assert len(errors) == 1 and "crc_a" in errors[0].msg
    with pytest.raises(SystemCheckError, match="crc_a holds Data manager and signs at SITEA"):
        call_command("check", "--database", "default", "--fail-level", "ERROR")


# --- role grants are audited --------------------------------------------------------------------------


def test_who_made_this_person_a_statistician_when_and_why(client, root, no_role_user):
    since = timezone.now()
    client.force_login(root)
    post = user_post(no_role_user, groups=[str(group(TrialRole.STATISTICIAN).pk)], is_staff="on")
    response = client.post(user_change(no_role_user), post)
    assert response.status_code == 200 and "Give a reason for the change" in response.content.decode()
    assert roles_of(no_role_user)[2] == []
    response = client.post(user_change(no_role_user), {**post, "change_reason": "Appointed by the steering committee"})
    assert response.status_code == 302
    assert roles_of(no_role_user)[2] == [TrialRole.STATISTICIAN]
    row = User.objects.get(pk=no_role_user.pk).history.order_by("-history_id").first()
    assert row.history_user_id == root.pk and row.history_date >= since
    assert row.history_change_reason == "Appointed by the steering committee"
    assert [g.group.name for g in row.groups.all()] == [TrialRole.STATISTICIAN]
    # The history page shows the grant, readably, to the administrator and the data manager.
    page = client.get(reverse("admin:oligami_site_user_history", args=[no_role_user.pk])).content.decode()
    assert "Appointed by the steering committee" in page and TrialRole.STATISTICIAN in page


def test_membership_grants_carry_the_reason(client, root, no_role_user, site_a):
    client.force_login(root)
    response = client.post(reverse("admin:oligami_site_membership_add"),
                           {"user": no_role_user.pk, "site": site_a.pk, "role": "coordinator", "active": "on",
                            "change_reason": "Joined the trial team (delegation log 2026-12-01)"})
    assert response.status_code == 302
    row = Membership.objects.get(user=no_role_user).history.first()
    assert row.history_user_id == root.pk
    assert row.history_change_reason == "Joined the trial team (delegation log 2026-12-01)"


def test_a_password_set_by_the_administrator_is_on_the_trail_without_the_hash(client, root, coordinator_a):
    client.force_login(root)
    url = reverse("admin:auth_user_password_change", args=[coordinator_a.pk])
    post = {"password1": "Replacement-2026!", "password2": "Replacement-2026!", "usable_password": "true"}
    response = client.post(url, post)
    assert response.status_code == 200 and "Give a reason for the change" in response.content.decode()
    response = client.post(url, {**post, "change_reason": "Forgotten, identity checked by phone"})
    assert response.status_code == 302
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password("Replacement-2026!")
    row = coordinator_a.history.order_by("-history_id").first()
    assert row.history_user_id == root.pk and row.history_change_reason == "Forgotten, identity checked by phone"
    assert not hasattr(row, "password")  # no password hash kept in the history table


def test_a_login_writes_no_history_row(client, coordinator_a):
    before = coordinator_a.history.count()
    assert client.login(username="crc_a", password=PASSWORD)
    assert User.objects.get(pk=coordinator_a.pk).last_login is not None
    assert coordinator_a.history.count() == before


def test_trial_role_groups_are_read_only_even_for_the_administrator(client, root):
    """Their permissions are roles.py's table (applied after every migrate) and their names are the roles."""
    client.force_login(root)
    dm_group = group(TrialRole.DATA_MANAGER)
    url = reverse("admin:auth_group_change", args=[dm_group.pk])
    assert client.get(url).status_code == 200
    add_user = str(Permission.objects.get(codename="add_user").pk)
    assert client.post(url, {"name": "Renamed", "permissions": [add_user]}).status_code == 403
    assert Group.objects.filter(name=TrialRole.DATA_MANAGER).exists()
    assert not dm_group.permissions.filter(codename="add_user").exists()


def test_the_administrator_manages_accounts(client, root, site_b):
    """The trial administrator still does the job: an account, a role, a device removed."""
    client.force_login(root)
    response = client.post(reverse("admin:oligami_site_user_add"),
                           {"username": "crc_new", "email": "crc_new@hospital.example", "preferred_language": "ja",
                            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    new = User.objects.get(username="crc_new")
    assert not new.has_usable_password()  # set by its owner through the activation link (test_onboarding.py)
    assert new.history.first().history_user_id == root.pk
    response = client.post(reverse("admin:oligami_site_membership_add"),
                           {"user": new.pk, "site": site_b.pk, "role": "coordinator", "active": "on"})
    assert response.status_code == 302
    device = confirmed_totp_device(new)
    # Devices: removed when lost, never added or edited by anyone but their owner (who enrols).
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).status_code == 200
    assert client.post(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]),
                       {"user": root.pk, "name": "taken", "confirmed": "on"}).status_code == 403
    assert client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]),
                       {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_accounts_from_before_their_history_get_a_first_row(coordinator_a, data_manager):
    """Migration 0006: the first grant after deployment shows old -> new, not a row with nothing before it."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("oligami_site.migrations.0006_user_history_baseline")
    User.history.model.objects.filter(id__in=[coordinator_a.pk, data_manager.pk]).delete()
    migration.baseline(apps, None)
    migration.baseline(apps, None)  # once only
    rows = User.history.model.objects.filter(id=data_manager.pk)
    assert rows.count() == 1
    row = rows.get()
    assert row.history_change_reason == migration.REASON and row.username == "dm"
    assert [g.group.name for g in row.groups.all()] == [TrialRole.DATA_MANAGER]
    data_manager.groups.remove(group(TrialRole.DATA_MANAGER))
    latest = data_manager.history.order_by("-history_id").first()
    assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["groups"]


def test_the_refusal_names_the_roles_in_the_readers_language(data_manager, site_a):
    from django.utils import translation

    membership = Membership(user=data_manager, site=site_a, role="coordinator")
    with translation.override("ja"), pytest.raises(DomainError) as refused:
        duties.check_membership(membership)
    assert "データマネージャー" in str(refused.value.message) and "SITEA" in str(refused.value.message)
