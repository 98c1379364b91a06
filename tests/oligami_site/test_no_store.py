"""Cache-Control: no-store on every answer to a signed-in user (issue 13; oligami_site.middleware).

Shared ward computers: the browser must keep no copy of a page or download with patient data for the
next person. The URL walk of the authorization matrix (every URL pattern, the objects of site A and B),
GET for every role and POST for the URLs that write: every answer to a signed-in user says no-store,
streamed CSV downloads and the export files included; the calendar feed (no login: its token is the
key) says no-store for anyone.
"""

import re

import pytest
from django.urls import get_resolver, reverse

from tests.oligami_site import test_authorization_matrix as matrix
from tests.oligami_site.test_authorization_matrix import GET, OBJECT_ARGUMENTS, POST, ROLES, arguments, body, walk

pytestmark = pytest.mark.django_db
scene = matrix.scene  # the matrix's fixture: a randomized patient at site A and at site B, every role


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
def test_every_answer_to_a_signed_in_user_says_no_store(client, scene, role):
    client.force_login(scene["users"][role])
    client.raise_request_exception = False
    routes = sorted(walk(get_resolver().url_patterns), key=lambda item: item[1] == "logout")
    missing, tried, downloads = [], 0, 0
    for method, table in (("get", GET), ("post", POST)):
        for route, name in routes:
            if name not in table or name == "logout":
                continue
            has_object = bool(OBJECT_ARGUMENTS & set(re.findall(r"<(?:\w+:)?(\w+)>", route)))
            for target in ("A", "B") if has_object else ("A",):
                url = reverse(name, kwargs=arguments(name, route, scene, target))
                response = getattr(client, method)(url)
                tried += 1
                downloads += response.streaming and response.status_code == 200
                body(response)
                if not no_store(response):
                    missing.append(f"{method.upper()} {url} ({name}): {response.status_code} "
                                   f"Cache-Control={response.get('Cache-Control')!r}")
    assert tried >= len(GET)
    assert not missing, f"{len(missing)} answers to {role} without no-store:\n" + "\n".join(missing)
    if role == "data_manager":
        assert downloads >= 3  # the streamed exports were among them


def test_the_admin_and_the_calendar_feed_say_no_store(client, scene):
    client.force_login(scene["users"]["data_manager"])
    assert no_store(client.get(reverse("admin:index")))
    client.logout()
    feed = client.get(reverse("calendar_feed", kwargs={"token": scene["feed_token"]}))
    assert feed.status_code == 200 and no_store(feed)

