"""Reads that span models: the balance report (arms by factor level), scoped by oligami_site.access.

Concealment: only allocations that exist are counted; nothing here reads the allocation list.
"""

from dataclasses import dataclass, field

from oligami_site import access
from oligami_site.access import Action
from oligami_site.models import Site

from . import allocation
from . import factors as fx
from .models import Allocation, RandomizationConfig


@dataclass
class Row:
    level: str
    label: str
    a: int = 0
    b: int = 0

    @property
    def total(self):
        return self.a + self.b

    @property
    def diff(self):
        return abs(self.a - self.b)


@dataclass
class Group:
    key: str
    label: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Balance:
    trial_wide: bool  # False: a site user's or monitor's own sites only (site rows only)
    groups: list[Group]
    total_a: int
    total_b: int
    method: str | None

    @property
    def total(self):
        return self.total_a + self.total_b

    @property
    def diff(self):
        return abs(self.total_a - self.total_b)


def balance_for(user) -> Balance | None:
    """The balance report the user may see, or None when they may see none.

    Data managers and the statistician: every site and every factor level of the set-up. Site staff and
    monitors: their own sites' rows only (trial-wide marginals would help predict the next allocation).
    """
    trial_wide = access.is_data_manager(user) or access.is_statistician(user)
    if trial_wide:
        site_ids = None
    else:
        site_ids = access.site_ids_for(user, Action.VIEW)
        if not site_ids:
            return None
    config = RandomizationConfig.objects.filter(active=True).first()
    allocations = Allocation.objects.all()
    sites = Site.objects.all()  # closed sites' allocations count in the balance too
    if site_ids is not None:
        allocations = allocations.filter(patient__site_id__in=site_ids)
        sites = Site.objects.filter(id__in=site_ids)
    records = list(allocations.values_list("arm", "factors", "patient__site_id"))

    site_rows = {s.pk: Row(s.code, s.code) for s in sites.order_by("code")}
    factor_keys = [k for k in fx.ordered(config.factors if config else fx.DEFAULT_FACTORS) if k != fx.SITE]
    level_rows = {k: {v: Row(v, str(fx.FACTORS[k].level_label(v))) for v in fx.level_values(k)} for k in factor_keys}
    total = {allocation.ARM_A: 0, allocation.ARM_B: 0}
    for arm, levels, site_id in records:
        total[arm] += 1
        if site_id in site_rows:
            _add(site_rows[site_id], arm)
        for key in factor_keys:
            level = (levels or {}).get(key)
            if level in level_rows[key]:
                _add(level_rows[key][level], arm)

    groups = [Group(fx.SITE, str(fx.FACTORS[fx.SITE].label), list(site_rows.values()))]
    if trial_wide:
        groups += [Group(k, str(fx.FACTORS[k].label), list(level_rows[k].values())) for k in factor_keys]
    return Balance(trial_wide=trial_wide, groups=groups, total_a=total[allocation.ARM_A],
                   total_b=total[allocation.ARM_B], method=config.get_method_display() if config else None)


def _add(row: Row, arm: str):
    if arm == allocation.ARM_A:
        row.a += 1
    else:
        row.b += 1


# The bar chart (inline SVG drawn on the server, no script): geometry only, the template draws it.
LABEL_WIDTH = 190
BAR_MAX = 320
ROW_HEIGHT = 30
HEADER_HEIGHT = 24


def chart(balance: Balance) -> dict:
    largest = max([1] + [max(r.a, r.b) for g in balance.groups for r in g.rows])
    y = 8
    items = []
    for group in balance.groups:
        items.append({"kind": "header", "y": y + 16, "text": group.label})
        y += HEADER_HEIGHT
        for row in group.rows:
            wa = round(BAR_MAX * row.a / largest)
            wb = round(BAR_MAX * row.b / largest)
            items.append({
                "kind": "row", "label": row.label, "label_y": y + 17,
                "a_y": y + 2, "a_w": wa, "a_text_x": LABEL_WIDTH + wa + 6, "a_text_y": y + 11, "a": row.a,
                "b_y": y + 15, "b_w": wb, "b_text_x": LABEL_WIDTH + wb + 6, "b_text_y": y + 24, "b": row.b,
            })
            y += ROW_HEIGHT
    return {"items": items, "height": y + 8, "width": LABEL_WIDTH + BAR_MAX + 60, "bar_x": LABEL_WIDTH,
            "label_x": LABEL_WIDTH - 8}


def factor_rows(record: Allocation) -> list[tuple[str, str]]:
    """(factor label, level label) of one allocation, in the factors' order: what the result page and the
    randomization certificate show. The factor values are the patient's facts (subtype, remaining lesions,
    site), not allocation internals: the preferred arm, the draw and the counts are never in here."""
    return [
        (fx.FACTORS[key].label, value if key == fx.SITE else fx.FACTORS[key].level_label(value))
        for key, value in ((k, record.factors.get(k)) for k in fx.ordered(record.factors))
    ]
