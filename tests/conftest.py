"""Shared fixtures: users in every role at two sites, and service availability.

PostgreSQL and Redis are used for real when DATABASE_URL / CELERY_BROKER_URL point at them. Tests that
need a service skip without it, unless OLIGAMI_REQUIRE_SERVICES=1 (set by .ci/run) turns the skip
into a failure, so CI can never pass by skipping.
"""

import os

import pytest
from django.conf import settings

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


PASSWORD = "correct-horse-battery-staple"


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
