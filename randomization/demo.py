"""Demo data of randomization: the default set-up (minimization on site, subtype and lesions, p = 0.8).

Idempotent: nothing is created when an active configuration exists. Randomized demo patients come
with the secondary-registration demo (they are randomized through the service, never inserted).
"""

from oligami_site.models import User

from . import services
from .factors import DEFAULT_FACTORS
from .models import Method, RandomizationConfig


def seed(*, stdout):
    if RandomizationConfig.objects.filter(active=True).exists():
        return
    user = User.objects.filter(username="stat").first() or User.objects.filter(is_superuser=True).first()
    services.create_config(
        user=user, reason="Demo set-up", method=Method.MINIMIZATION, factors=list(DEFAULT_FACTORS),
        weights=dict.fromkeys(DEFAULT_FACTORS, 1), p=0.8, block_sizes=[4, 6],
    )
    stdout.write("Randomization: minimization (site, subtype, lesions; p = 0.8) set up.")
