"""Shared fixtures: users in every role at two sites, and service availability.

PostgreSQL and Redis are used for real when DATABASE_URL / CELERY_BROKER_URL point at them. Tests that
need a service skip without it, unless OLIGAMI_REQUIRE_SERVICES=1 (set by .ci/run) turns the skip
into a failure, so CI can never pass by skipping.
"""

import os

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import Client
from django.utils import translation

from tests.factories import MembershipFactory, SiteFactory, UserFactory, trial_role_user

REQUIRE_SERVICES = os.environ.get("OLIGAMI_REQUIRE_SERVICES") == "1"


def need(condition: bool, what: str):
    """Skip (or, in CI, fail) when a real service is not available."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (OLIGAMI_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


def uses_postgresql() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def uses_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.fixture(autouse=True)
def _fast_hashing_and_outbox(settings):
    # Password hashing is not under test here; MD5 keeps logins and signatures fast in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The reports' cache is moved on by commits (oligami_site.dataversion), and a test's transaction never
    # commits: off here, on in tests/oversight/test_reports_cache.py, whose tests commit for real.
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    yield
    # A view or a test that activated a language (a Japanese-speaking user's request, a page test) leaves it
    # active in this thread; the next test would then read Japanese messages where it expects the default.
    translation.deactivate()


PASSWORD = "correct-horse-battery-staple"


class OligamiClient(Client):
    """Django's test client, logging in as a person does in this app (test support only; production unchanged).

    - ``login()`` hands django-axes the request its backend needs (AxesStandaloneBackend refuses to
      authenticate without one), like a browser's, so lockouts apply to test logins too.
    - ``login()`` and ``force_login()`` then complete the second factor of users who have a confirmed TOTP
      device (every data manager, statistician and admin user in the fixtures) through
      ``django_otp.login``, the call the verification page makes after a correct code. Tests of the
      two-factor flow itself use ``password_only_client`` (second_factor=False).
    """

    def __init__(self, *args, second_factor=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.second_factor = second_factor

    def login(self, **credentials):
        if "request" not in credentials:
            request = HttpRequest()
            request.META.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "Django test client"})
            request.path = request.path_info = "/accounts/login/"
            credentials["request"] = request
        if not super().login(**credentials):
            return False
        self._complete_second_factor(get_user_model()._default_manager.get(pk=self.session["_auth_user_id"]))
        return True

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        self._complete_second_factor(user)

    def _complete_second_factor(self, user):
        from django_otp import login as otp_login
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if not self.second_factor or device is None:
            return
        request = HttpRequest()
        request.session = self.session
        request.user = user
        otp_login(request, device)
        request.session.save()


@pytest.fixture
def client():
    """pytest-django's `client`, as OligamiClient (axes-aware login, second factor completed)."""
    return OligamiClient()


@pytest.fixture
def password_only_client():
    """A client whose logins stop after the password, as a browser's do before the one-time code."""
    return OligamiClient(second_factor=False)


@pytest.fixture
def site_a(db):
    return SiteFactory(code="SITEA", name_en="Site A Hospital", name_ja="Aサイト病院")


@pytest.fixture
def site_b(db):
    return SiteFactory(code="SITEB", name_en="Site B Hospital", name_ja="Bサイト病院")


@pytest.fixture
def coordinator_a(site_a):
    return MembershipFactory(site=site_a, role="coordinator", user__username="crc_a").user


@pytest.fixture
def investigator_a(site_a):
    return MembershipFactory(site=site_a, role="investigator", user__username="pi_a").user


@pytest.fixture
def monitor_a(site_a):
    return MembershipFactory(site=site_a, role="monitor", user__username="monitor_a").user


@pytest.fixture
def coordinator_b(site_b):
    return MembershipFactory(site=site_b, role="coordinator", user__username="crc_b").user


@pytest.fixture
def data_manager(db):
    return trial_role_user("Data manager", username="dm", is_staff=True)


@pytest.fixture
def statistician(db):
    return trial_role_user("Statistician", username="stat", is_staff=True)


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="nobody")
