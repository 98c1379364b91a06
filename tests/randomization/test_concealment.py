"""Allocation concealment: no page, CSV, admin page, command output or e-mail shows an unused list slot,
the next arm or the list's seed (protocol/RANDOMIZATION.md; issue 5)."""

import io

import pytest
from django.contrib import admin
from django.core import mail
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from randomization import services
from randomization.exceptions import BlockListExhausted
from randomization.models import Allocation, BlockListEntry
from tests.factories import PASSWORD, UserFactory
from tests.randomization.factories import FACTORS, blocks_config, ready_patient

pytestmark = pytest.mark.django_db

SEED = 918273645546372819


def _forms_of(arms: list[str]) -> set[str]:
    """The unused arm sequence written every way a page could write it."""
    joined = "".join(arms)
    words = ["arm A" if a == "A" else "arm B" for a in arms]
    return {joined, ",".join(arms), ", ".join(arms), " ".join(arms), "|".join(arms), "\t".join(arms),
            '","'.join(arms), "', '".join(arms), "</td><td>".join(arms), ", ".join(words),
            joined.replace("A", "0").replace("B", "1"), joined.replace("A", "1").replace("B", "2")}


@pytest.fixture
def scene(site_a, coordinator_a, investigator_a, monitor_a, data_manager, statistician,
          django_capture_on_commit_callbacks):
    """A generated list, two patients randomized (luminal|1), one stratum exhausted (alert sent)."""
    config = blocks_config(statistician, slots=12, seed=SEED, block_sizes=(2, 4))
    patients = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            patient = ready_patient(site_a)
            services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
            patients.append(patient)
    # Use up "tnbc|2-3" except for nothing: take all its slots, then one more to trigger the alert.
    tnbc = {"subtype": "tnbc", "lesions": "2-3"}
    for _ in range(BlockListEntry.objects.filter(config=config, stratum="tnbc|2-3").count()):
        with django_capture_on_commit_callbacks(execute=True):
            services.randomize(patient=ready_patient(site_a), factors=tnbc, user=coordinator_a)
    with pytest.raises(BlockListExhausted) as refused:
        services.randomize(patient=ready_patient(site_a), factors=tnbc, user=coordinator_a)
    services.send_pending_alert(refused.value)  # as the caller does once its transaction has ended
    config.refresh_from_db()
    return config, patients


def _unused_sequences(config):
    out = {}
    for entry in BlockListEntry.objects.filter(config=config, used_by__isnull=True).order_by("stratum", "position"):
        out.setdefault(entry.stratum, []).append(entry.arm)
    return out


def _outputs(client, config, patients, users):
    """Every response body of the randomization pages, CSV and admin, for every role."""
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    allocation = Allocation.objects.order_by("sequence").first()
    pages = {
        "result": reverse("randomization:result", args=[patients[0].pk]),
        "balance": reverse("randomization:balance"),
        "balance_csv": reverse("randomization:balance_csv"),
        "home": reverse("home"),
        "admin_index": reverse("admin:index"),
        "admin_app": reverse("admin:app_list", args=["randomization"]),
        "config_list": reverse("admin:randomization_randomizationconfig_changelist"),
        "config_change": reverse("admin:randomization_randomizationconfig_change", args=[config.pk]),
        "config_history": reverse("admin:randomization_randomizationconfig_history", args=[config.pk]),
        "allocation_list": reverse("admin:randomization_allocation_changelist"),
        "allocation_change": reverse("admin:randomization_allocation_change", args=[allocation.pk]),
        "allocation_history": reverse("admin:randomization_allocation_history", args=[allocation.pk]),
        "attempts": reverse("admin:randomization_configchangeattempt_changelist"),
    }
    for record in config.history.all():
        pages[f"config_history_{record.pk}"] = reverse(
            "admin:randomization_randomizationconfig_simple_history", args=[config.pk, record.pk])
    bodies = {}
    for user in (*users, superuser):
        client.force_login(user)
        for name, url in pages.items():
            response = client.get(url)
            if response.status_code == 200:
                bodies[f"{user.username}:{name}"] = response.getvalue().decode()  # CSVs stream (oligami_site.csvfiles)
    return bodies


def test_no_output_reveals_unused_slots_the_next_arm_or_the_seed(client, scene, coordinator_a, investigator_a,
                                                                  monitor_a, data_manager, statistician):
    config, patients = scene
    unused = _unused_sequences(config)
    assert unused["luminal|1"] and len(unused["luminal|1"]) >= 8  # enough to be unmistakable
    bodies = _outputs(client, config, patients, (coordinator_a, investigator_a, monitor_a, data_manager, statistician))
    out = io.StringIO()
    call_command("verify_allocations", stdout=out)
    bodies["verify_allocations"] = out.getvalue()
    for i, message in enumerate(mail.outbox):
        bodies[f"mail{i}:subject"] = message.subject
        bodies[f"mail{i}:text"] = message.body
        for j, (content, _type) in enumerate(message.alternatives):
            bodies[f"mail{i}:html{j}"] = content
    assert any(k.endswith(":config_change") for k in bodies) and any(k.startswith("mail") for k in bodies)
    assert any("used up" in v for k, v in bodies.items() if k.startswith("mail"))  # the alert e-mail is in

    for stratum, arms in unused.items():
        forms = _forms_of(arms)
        for name, body in bodies.items():
            for form in forms:
                assert form not in body, f"the unused slots of {stratum} appear in {name}"
    unused_names = [str(e) for e in BlockListEntry.objects.filter(config=config, used_by__isnull=True)]
    for name, body in bodies.items():
        assert not [n for n in unused_names if n in body], f"an unused slot is named in {name}"
        assert config.block_list_seed not in body, f"the list seed appears in {name}"
        assert "blocklistentry" not in body.lower(), name
        lowered = body.lower()
        assert "next arm" not in lowered and "next allocation" not in lowered, name
    # The statistician sees the SHA-256 and size of the list, and nothing of the list itself.
    assert config.block_list_sha256 in bodies["stat:config_change"]
    assert str(config.block_list_size) in bodies["stat:config_change"]


def test_the_list_has_no_admin_at_all(client, scene):
    assert not admin.site.is_registered(BlockListEntry)
    with pytest.raises(NoReverseMatch):
        reverse("admin:randomization_blocklistentry_changelist")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    for url in ("/admin/randomization/blocklistentry/", "/admin/randomization/blocklistentry/1/change/",
                "/admin/randomization/historicalblocklistentry/"):
        assert client.get(url, follow=True).status_code == 404


def test_result_page_shows_only_the_patients_own_arm(client, scene, coordinator_a):
    config, patients = scene
    client.login(username=coordinator_a.username, password=PASSWORD)
    html = client.get(reverse("randomization:result", args=[patients[1].pk])).content.decode()
    record = Allocation.objects.get(patient=patients[1])
    assert html.count('data-arm="') == 1 and f'data-arm="{record.arm}"' in html
    # the list slot is not named on the page (its position would tell how far the block has gone)
    main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0].lower()
    assert record.block_entry_id and "slot" not in main and "position" not in main and "stratum" not in main
