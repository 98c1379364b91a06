"""The allocation factors the configuration may use, their levels and their labels.

The levels are the words the pure algorithms count by (randomization/allocation.py): subtype as the
eligibility engine derives it, remaining oligometastases as "1" or "2-3". The site's level is its code.
The secondary-registration service computes the values; this module only names and checks them.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from . import allocation

SITE = "site"
SUBTYPE = "subtype"
LESIONS = "lesions"
BONE_ONLY = "bone_only"
RESPONSE = "response"


@dataclass(frozen=True)
class Factor:
    key: str
    label: str
    levels: tuple[tuple[str, str], ...] | None  # None: the levels are the sites

    def level_label(self, level):
        for value, label in self.levels or ():
            if value == level:
                return label
        return level


FACTORS = {
    SITE: Factor(SITE, _("Site"), None),
    SUBTYPE: Factor(SUBTYPE, _("Subtype"), (
        (allocation.SUBTYPES[0], _("luminal")),
        (allocation.SUBTYPES[1], _("HER2-positive")),
        (allocation.SUBTYPES[2], _("triple-negative")),
    )),
    LESIONS: Factor(LESIONS, _("Remaining oligometastases"), (
        (allocation.LESION_LEVELS[0], _("1")),
        (allocation.LESION_LEVELS[1], _("2-3")),
    )),
    BONE_ONLY: Factor(BONE_ONLY, _("Bone-only disease"), (("yes", _("yes")), ("no", _("no")))),
    RESPONSE: Factor(RESPONSE, _("Response at evaluation"), (("PR", _("PR")), ("SD", _("SD")))),
}
FACTOR_ORDER = (SITE, SUBTYPE, LESIONS, BONE_ONLY, RESPONSE)
FACTOR_CHOICES = [(key, FACTORS[key].label) for key in FACTOR_ORDER]
DEFAULT_FACTORS = [SITE, SUBTYPE, LESIONS]
# Blocks are stratified by subtype x remaining lesions (RANDOMIZATION.md); site is never a stratum
# (with dozens of sites most strata would hold a few patients and blocks would stay open).
DEFAULT_BLOCK_FACTORS = [SUBTYPE, LESIONS]


def ordered(factor_keys) -> list[str]:
    """The factors in their canonical order (the order of strata keys and report rows)."""
    keys = set(factor_keys)
    return [key for key in FACTOR_ORDER if key in keys]


def level_values(factor_key) -> tuple[str, ...] | None:
    factor = FACTORS[factor_key]
    return None if factor.levels is None else tuple(value for value, _label in factor.levels)


def strata(factor_keys) -> list[str]:
    """Every stratum key of the non-site factors, in canonical order ("luminal|1", "luminal|2-3", ...).

    With the default (subtype, lesions) the keys equal allocation.stratum_key(subtype, lesions).
    """
    keys = [""]
    for factor_key in ordered(factor_keys):
        if factor_key == SITE:
            continue
        keys = [f"{k}{allocation.STRATUM_SEPARATOR}{v}" if k else v for k in keys for v in level_values(factor_key)]
    return [k for k in keys if k]


def stratum_of(levels: dict, factor_keys) -> str:
    return allocation.STRATUM_SEPARATOR.join(levels[k] for k in ordered(factor_keys) if k != SITE)
