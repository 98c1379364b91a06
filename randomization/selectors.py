"""Reads that span models: the balance report (arms by factor level), scoped by oligami_site.access.

Concealment: only allocations that exist are counted; nothing here reads the allocation list.
"""

from dataclasses import dataclass, field

from django.db.models import Count

from oligami_site import access
from oligami_site.models import Site

from . import allocation
from . import factors as fx
from .models import ALLOCATION_INTERNALS, Allocation, RandomizationConfig


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
    groups: list[Group]  # empty: totals by arm only (a data manager's report)
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

    The statistician: every site and every factor level of the set-up. Data managers: the trial-wide totals
    by arm only (no groups). Site staff and monitors: none. Balance by site or by factor is an allocation
    internal: a coordinator who saw her site's counts guessed the next arm ("the one with fewer at my site")
    right 64.5% of the time (issue 13; DESIGN.md, "Blinding of results").
    """
    if not access.sees_arm_totals(user):
        return None
    detailed = access.sees_allocation_internals(user)
    config = RandomizationConfig.objects.filter(active=True).first()
    method = config.get_method_display() if config else None
    if not detailed:
        total = dict(Allocation.objects.values_list("arm").annotate(n=Count("id")).order_by())
        return Balance(groups=[], total_a=total.get(allocation.ARM_A, 0),
                       total_b=total.get(allocation.ARM_B, 0), method=method)
    records = list(Allocation.objects.values_list("arm", "factors", "patient__site_id"))
    sites = Site.objects.all()  # closed sites' allocations count in the balance too

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
    groups += [Group(k, str(fx.FACTORS[k].label), list(level_rows[k].values())) for k in factor_keys]
    return Balance(groups=groups, total_a=total[allocation.ARM_A],
                   total_b=total[allocation.ARM_B], method=method)


def allocation_log_rows():
    """The allocation log with its internals, for the statistician's export (views.allocations_csv): the
    sequence links it to the analysis data set; no patient number (the statistician sees no patient data)."""
    columns = ["sequence", "patient__site__code", "arm", "method", "algorithm_version", "factors",
               *ALLOCATION_INTERNALS, "stratum", "allocated_at", "prev_hash", "hash"]
    header = ["sequence", "site", *columns[2:]]
    rows = Allocation.objects.order_by("sequence").values_list(*columns).iterator(chunk_size=1000)
    return header, rows


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
