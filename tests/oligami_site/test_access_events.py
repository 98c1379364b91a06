import pytest
from django.urls import reverse

from oligami_site.audit import record_signature_failure
from oligami_site.models import AccessEvent
from tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_logout_and_failed_login_are_recorded(client, coordinator_a):
    client.post(reverse("login"), {"username": "crc_a", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post(reverse("login"), {"username": "crc_a", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3",
                HTTP_USER_AGENT="TestBrowser/1.0")
    client.post(reverse("logout"), REMOTE_ADDR="10.1.2.3")
    events = list(AccessEvent.objects.order_by("id").values_list("kind", "username", "address"))
    assert events == [("login_failed", "crc_a", "10.1.2.3"), ("login", "crc_a", "10.1.2.3"),
                      ("logout", "crc_a", "10.1.2.3")]
    assert AccessEvent.objects.get(kind="login").user == coordinator_a


@pytest.mark.django_db
def test_signature_failure_is_recorded_as_such(rf, coordinator_a):
    request = rf.post("/", REMOTE_ADDR="192.0.2.7")
    record_signature_failure(request=request, user=coordinator_a)
    event = AccessEvent.objects.get()
    assert (event.kind, event.username, event.address) == ("signature_failed", "crc_a", "192.0.2.7")


@pytest.mark.django_db
def test_access_events_are_read_only_in_admin(client, data_manager, coordinator_a):
    client.post(reverse("login"), {"username": "crc_a", "password": "wrong"})
    client.login(username="dm", password=PASSWORD)
    event = AccessEvent.objects.get(kind="login_failed")
    assert client.get(f"/admin/oligami_site/accessevent/{event.pk}/delete/").status_code in (302, 403)
    response = client.post(f"/admin/oligami_site/accessevent/{event.pk}/change/", {"kind": "login"})
    assert response.status_code in (302, 403)
    event.refresh_from_db()
    assert event.kind == "login_failed"
