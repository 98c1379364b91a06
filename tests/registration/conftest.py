import pytest

from tests.registration.factories import make_plans


@pytest.fixture
def plans(db):
    """Therapy plans of the three subtypes, in force since 2020 (luminal 3 x 28, HER2 and TN 4 x 21 days)."""
    return make_plans()
