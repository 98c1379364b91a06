"""Cache-Control: no-store on every answer to a signed-in user (issue 13; oligami_site.middleware).

Shared ward computers: the browser must keep no copy of a page or download with patient data for the
next person. Every URL pattern (GET for every role, POST for the URLs that write, the objects of site A and
B, streamed CSV downloads and the export files included) is checked in the authorization matrix's walk
(tests/oligami_site/test_authorization_matrix.py::test_authorization_matrix), which makes exactly these
requests: one walk, not two. Here: the admin, and the calendar feed (no login: its token is the key), which
says no-store for anyone.
"""

import pytest
from django.urls import reverse

from tests.oligami_site import test_authorization_matrix as matrix

pytestmark = pytest.mark.django_db
scene = matrix.scene  # the matrix's fixture: a randomized patient at site A and at site B, every role


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_the_admin_and_the_calendar_feed_say_no_store(client, scene):
    client.force_login(scene["users"]["data_manager"])
    assert no_store(client.get(reverse("admin:index")))
    client.logout()
    feed = client.get(reverse("calendar_feed", kwargs={"token": scene["feed_token"]}))
    assert feed.status_code == 200 and no_store(feed)

