"""Set-ups and ready patients for the randomization tests (the live services create everything)."""

from randomization import services
from randomization.models import Method
from screening.models import Patient
from tests.factories import PatientFactory

FACTORS = {"subtype": "luminal", "lesions": "1"}


def ready_patient(site, **kwargs):
    """A patient as randomize sees her inside the secondary-registration transaction: stage registered."""
    return PatientFactory(site=site, stage=Patient.Stage.REGISTERED, **kwargs)


def minimization_config(user=None, **values):
    values = {"method": Method.MINIMIZATION, "factors": ["site", "subtype", "lesions"],
              "weights": {"site": 1, "subtype": 1, "lesions": 1}, "p": 0.8, "block_sizes": [4, 6], **values}
    config, _warnings = services.create_config(user=user, **values)
    return config


def blocks_config(user=None, *, slots=6, seed=20260302, generate=True, block_sizes=(2, 4)):
    config, _warnings = services.create_config(
        user=user, method=Method.BLOCKS, factors=["subtype", "lesions"], weights={}, p=0.8,
        block_sizes=list(block_sizes), slots_per_stratum=slots,
    )
    if generate:
        config = services.generate_block_list(config=config, user=user, seed=seed)
    return config
