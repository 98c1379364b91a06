"""Result page, balance report (scoping, chart, CSV, query bounds) and the randomization admin."""

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from oligami_site.models import Membership
from randomization import services
from randomization.models import Allocation, ConfigChangeAttempt, RandomizationConfig
from tests.factories import PASSWORD, MembershipFactory, SiteFactory, UserFactory
from tests.randomization.factories import FACTORS, minimization_config, ready_patient

pytestmark = pytest.mark.django_db


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _randomize(site, user, factors=FACTORS):
    return services.randomize(patient=ready_patient(site), factors=factors, user=user)


def test_result_page_shows_arm_date_signature_and_next_steps(client, site_a, coordinator_a):
    minimization_config()
    record = _randomize(site_a, coordinator_a)
    html = _login(client, coordinator_a).get(reverse("randomization:result", args=[record.patient_id])).content.decode()
    assert record.patient.screening_number in html
    assert f'data-arm="{record.arm}"' in html
    assert "JST" in html and record.allocated_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M") in html
    assert coordinator_a.printed_name in html and record.signature_meaning in html
    assert "systemic therapy alone" in html and "radiation or surgery" in html
    assert "every remaining oligometastasis" in html


def test_result_page_is_404_for_other_sites_and_the_statistician(client, site_a, coordinator_a, coordinator_b,
                                                                statistician, monitor_a, data_manager):
    minimization_config()
    record = _randomize(site_a, coordinator_a)
    url = reverse("randomization:result", args=[record.patient_id])
    for user, status in ((coordinator_b, 404), (statistician, 404), (monitor_a, 200), (data_manager, 200)):
        client.logout()
        assert _login(client, user).get(url).status_code == status, user.username
    assert client.get(reverse("randomization:result", args=[999999])).status_code == 404


def test_balance_for_data_manager_shows_every_factor_level_totals_and_chart(client, site_a, site_b, coordinator_a,
                                                                           coordinator_b, data_manager):
    minimization_config()
    for _ in range(3):
        _randomize(site_a, coordinator_a)
    _randomize(site_b, coordinator_b, {"subtype": "tnbc", "lesions": "2-3"})
    html = _login(client, data_manager).get(reverse("randomization:balance")).content.decode()
    for text in ("SITEA", "SITEB", "luminal", "HER2-positive", "triple-negative", "Remaining oligometastases",
                 "2-3", "<svg", 'id="total-a"'):
        assert text in html, text
    a = Allocation.objects.filter(arm="A").count()
    assert f'<td class="text-end" id="total-a">{a}</td>' in html
    assert f'<td class="text-end" id="total-b">{4 - a}</td>' in html
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert " style=" not in html


def test_balance_for_site_users_and_monitors_is_their_sites_rows_only(client, site_a, site_b, coordinator_a,
                                                                     coordinator_b, monitor_a, statistician):
    minimization_config()
    _randomize(site_a, coordinator_a)
    _randomize(site_b, coordinator_b)
    _randomize(site_b, coordinator_b)
    for user in (coordinator_a, monitor_a):
        client.logout()
        html = _login(client, user).get(reverse("randomization:balance")).content.decode()
        assert "SITEA" in html and "SITEB" not in html
        assert "Subtype" not in html and "luminal" not in html  # no trial-wide marginals for sites
        assert '<td class="text-end" id="total-a">' in html
        a = Allocation.objects.filter(arm="A", patient__site=site_a).count()
        assert f'id="total-a">{a}</td>' in html
        csv = client.get(reverse("randomization:balance_csv")).getvalue().decode()
        assert "SITEA" in csv and "SITEB" not in csv
    client.logout()
    html = _login(client, statistician).get(reverse("randomization:balance")).content.decode()
    assert "SITEA" in html and "SITEB" in html and "luminal" in html


def test_balance_is_404_without_any_role(client, no_role_user):
    minimization_config()
    _login(client, no_role_user)
    assert client.get(reverse("randomization:balance")).status_code == 404
    assert client.get(reverse("randomization:balance_csv")).status_code == 404


def _many_allocations(n, sites, users):
    for i in range(n):
        site = sites[i % len(sites)]
        subtype = ("luminal", "her2", "tnbc")[i % 3]
        services.randomize(patient=ready_patient(site), factors={"subtype": subtype, "lesions": ("1", "2-3")[i % 2]},
                           user=users[site.pk])


@pytest.mark.parametrize("n", [10, 200])
def test_balance_query_count_is_bounded(client, data_manager, django_assert_max_num_queries, n):
    minimization_config()
    sites = [SiteFactory(code=f"Q{i:02d}") for i in range(5)]
    users = {s.pk: MembershipFactory(site=s, role="coordinator").user for s in sites}
    _many_allocations(n, sites, users)
    _login(client, data_manager)
    # 10 + 1: a data manager's session is checked against the device of the second factor on each request.
    with django_assert_max_num_queries(11):
        response = client.get(reverse("randomization:balance"))
    assert response.status_code == 200
    with django_assert_max_num_queries(11):
        assert client.get(reverse("randomization:balance_csv")).status_code == 200
    _login(client, users[sites[0].pk])
    with django_assert_max_num_queries(10):
        assert client.get(reverse("randomization:balance")).status_code == 200


def test_allocation_admin_list_query_count_is_bounded(client, django_assert_max_num_queries):
    minimization_config()
    sites = [SiteFactory(code=f"R{i:02d}") for i in range(3)]
    users = {s.pk: MembershipFactory(site=s, role="coordinator").user for s in sites}
    _many_allocations(60, sites, users)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _login(client, admin)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("admin:randomization_allocation_changelist")).status_code == 200


# ---- admin -------------------------------------------------------------------------------------------


def test_permissions_of_the_trial_roles():
    dm = set(Group.objects.get(name="Data manager").permissions.values_list("codename", flat=True))
    stat = set(Group.objects.get(name="Statistician").permissions.values_list("codename", flat=True))
    assert {"view_allocation", "view_randomizationconfig", "view_configchangeattempt"} <= dm
    assert "change_randomizationconfig" not in dm
    assert {"view_randomizationconfig", "change_randomizationconfig"} <= stat
    assert "view_allocation" not in stat
    for perms in (dm, stat):  # the concealed list is granted to nobody, and the log is read-only
        assert not any("blocklistentry" in p for p in perms)
        assert not {"add_allocation", "change_allocation", "delete_allocation"} & perms


def test_allocations_are_read_only_in_the_admin_for_everyone(client, site_a, coordinator_a):
    minimization_config()
    record = _randomize(site_a, coordinator_a)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _login(client, admin)
    change_url = reverse("admin:randomization_allocation_change", args=[record.pk])
    page = client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"arm": "B" if record.arm == "A" else "A"}).status_code == 403
    assert client.get(reverse("admin:randomization_allocation_add")).status_code == 403
    assert client.post(reverse("admin:randomization_allocation_delete", args=[record.pk]),
                       {"post": "yes"}).status_code == 403
    assert Allocation.objects.get(pk=record.pk).arm == record.arm


def _config_post(config, **overrides):
    data = {"method": config.method, "factors": config.factors, "weights": '{"site": 1, "subtype": 1, "lesions": 1}',
            "p": str(config.p), "block_sizes": ",".join(map(str, config.block_sizes)),
            "slots_per_stratum": str(config.slots_per_stratum), "_save": "Save",
            "change_reason": "Set-up review before go-live"}
    data.update(overrides)
    return data


def test_statistician_changes_the_config_in_the_admin_until_frozen(client, site_a, coordinator_a, statistician):
    config = minimization_config(statistician)
    _login(client, statistician)
    url = reverse("admin:randomization_randomizationconfig_change", args=[config.pk])
    # p = 1 refused by the form, p = 0.96 saved with a warning
    response = client.post(url, _config_post(config, p="1"))
    assert response.status_code == 200 and "p = 1" in response.content.decode()
    response = client.post(url, _config_post(config, p="0.96"), follow=True)
    assert "nearly deterministic" in response.content.decode()
    config.refresh_from_db()
    assert config.p == 0.96
    assert config.history.first().history_user == statistician

    _randomize(site_a, coordinator_a)
    response = client.post(url, _config_post(config, p="0.7"), follow=True)
    assert "frozen" in response.content.decode()
    config.refresh_from_db()
    assert config.p == 0.96
    attempt = ConfigChangeAttempt.objects.get()
    assert attempt.user == statistician and attempt.action == "change" and attempt.attempted["p"] == "0.7"
    # the refused attempts are visible to the statistician in the admin
    assert "frozen" in client.get(reverse("admin:randomization_configchangeattempt_changelist")).content.decode()


def test_config_admin_add_is_closed_while_one_is_active(client, statistician):
    minimization_config(statistician)
    _login(client, statistician)
    assert client.get(reverse("admin:randomization_randomizationconfig_add")).status_code == 403
    assert RandomizationConfig.objects.count() == 1


def test_site_staff_cannot_reach_the_admin(client, coordinator_a):
    _login(client, coordinator_a)
    response = client.get(reverse("admin:randomization_randomizationconfig_changelist"))
    assert response.status_code == 302


def test_nav_shows_balance_to_site_staff_and_trial_roles(client, coordinator_a, no_role_user):
    html = _login(client, coordinator_a).get(reverse("home")).content.decode()
    assert reverse("randomization:balance") in html
    client.logout()
    html = _login(client, no_role_user).get(reverse("home")).content.decode()
    assert reverse("randomization:balance") not in html


def test_membership_deactivated_loses_access(client, site_a, coordinator_a):
    minimization_config()
    record = _randomize(site_a, coordinator_a)
    Membership.objects.filter(user=coordinator_a).update(active=False)
    _login(client, coordinator_a)
    assert client.get(reverse("randomization:result", args=[record.patient_id])).status_code == 404


def test_statistician_generates_the_block_list_in_the_admin_and_sees_its_sha256(client, site_a, coordinator_a,
                                                                                statistician):
    config = minimization_config(statistician)
    _login(client, statistician)
    url = reverse("admin:randomization_randomizationconfig_change", args=[config.pk])
    post = _config_post(config, method="blocks", factors=["subtype", "lesions"], weights="{}", block_sizes="4, 6",
                        slots_per_stratum="10")
    assert client.post(url, post).status_code == 302
    changelist = reverse("admin:randomization_randomizationconfig_changelist")
    response = client.post(changelist, {"action": "generate_block_list", "_selected_action": [config.pk]}, follow=True)
    config.refresh_from_db()
    html = response.content.decode()
    assert config.block_list_size >= 60 and config.block_list_sha256 in html and "slots" in html
    assert config.block_list_seed not in html
    assert config.block_list_sha256 in client.get(url).content.decode()

    services.randomize(patient=ready_patient(site_a), factors=FACTORS, user=coordinator_a)
    sha = config.block_list_sha256
    response = client.post(changelist, {"action": "generate_block_list", "_selected_action": [config.pk]}, follow=True)
    assert "frozen" in response.content.decode()
    config.refresh_from_db()
    assert config.block_list_sha256 == sha
    assert ConfigChangeAttempt.objects.get().action == "generate_block_list"
    page = client.get(url).content.decode()
    assert "Frozen since the first allocation" in page and 'name="p"' not in page  # every field read-only
