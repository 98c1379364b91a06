"""Site scoping and roles: the helper every view and queryset relies on."""

import pytest

from oligami_site import access
from oligami_site.models import Membership
from tests.factories import MembershipFactory


def test_coordinator_sees_only_own_site(coordinator_a, site_a, site_b):
    assert list(access.sites_for(coordinator_a)) == [site_a]
    assert access.can(coordinator_a, access.Action.EDIT, site_a)
    assert not access.can(coordinator_a, access.Action.VIEW, site_b)


def test_scope_filters_querysets(coordinator_a, site_a, site_b):
    scoped = access.scope(Membership.objects.all(), coordinator_a)
    assert {m.site_id for m in scoped} == {site_a.id}


def test_monitor_reads_but_never_edits(monitor_a, site_a):
    assert access.can(monitor_a, access.Action.VIEW, site_a)
    assert not access.can(monitor_a, access.Action.EDIT, site_a)
    assert not access.can(monitor_a, access.Action.SIGN, site_a)


def test_data_manager_sees_every_site_read_only(data_manager, site_a, site_b):
    assert set(access.sites_for(data_manager)) == {site_a, site_b}
    assert access.site_ids_for(data_manager, access.Action.VIEW) is None
    assert access.site_ids_for(data_manager, access.Action.EDIT) == set()


def test_statistician_sees_no_patient_site(statistician, site_a):
    assert list(access.sites_for(statistician)) == []


def test_inactive_membership_gives_nothing_and_a_closed_site_stays_readable(site_a, site_b):
    user = MembershipFactory(site=site_a, active=False).user
    assert list(access.sites_for(user)) == []
    other = MembershipFactory(site=site_b).user
    site_b.status = "closed"  # issue 17: a closed site is read-only for its staff, not a lock-out
    site_b.save()
    assert list(access.sites_for(other)) == [site_b]


def test_inactive_user_has_no_access(coordinator_a, site_a):
    coordinator_a.is_active = False
    assert not access.can(coordinator_a, access.Action.VIEW, site_a)


def test_get_scoped_or_404_hides_other_sites(coordinator_a, coordinator_b, site_b):
    from django.http import Http404

    membership_b = Membership.objects.get(user=coordinator_b)
    with pytest.raises(Http404):
        access.get_scoped_or_404(Membership.objects.all(), coordinator_a, pk=membership_b.pk)
    with pytest.raises(Http404):
        access.get_scoped_or_404(Membership.objects.all(), coordinator_a, pk="not-a-number")


def test_role_groups_are_synced_with_read_only_history(data_manager):
    from django.contrib.auth.models import Group

    perms = set(Group.objects.get(name="Data manager").permissions.values_list("codename", flat=True))
    assert "view_site" in perms and "change_site" in perms
    assert "view_historicalsite" in perms
    assert not any(p.startswith(("change_historical", "delete_historical", "add_historical")) for p in perms)
