"""The central monitoring report (中央モニタリングレポート) for a cut-off date, per site and trial-wide.

Every number is counted **as of the cut-off**: what had happened by the end of the cut-off day in
Asia/Tokyo. A query closed after the cut-off was still open at it; a patient randomized after it is not
counted. Where the present state is not enough, the history tables say what was true then.

The same numbers serve the page, its CSV and `python manage.py monitoring_report`. Bounded: one query
per measure (grouped by site), whatever the number of patients. The page and its CSV reuse a report
while no audited write has committed (`cached_report`, oligami_site.dataversion); the command computes afresh.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils.translation import get_language

from followup import selectors as followup_selectors
from oligami_site import dataversion
from oligami_site.models import Site
from randomization.models import Allocation
from registration.models import PrimaryRegistration
from safety.models import ExpeditedReport
from screening.models import Patient, Screening

from . import querystate
from .models import DataQuery, Deviation

# The keys of each row, in the contract's order (monitoring_report --format json).
COUNT_KEYS = ("screened", "primary_registered", "randomized", "open_queries", "overdue_queries", "deviations",
              "expedited_reports")
PERCENT_KEY = "followup_complete_percent"


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after `day` in the trial's time zone (a record at or after it is after the cut-off)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


@dataclass
class SiteRow:
    code: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    followup_complete_percent: float | None = None

    def as_dict(self, *, with_code=True) -> dict:
        row = {"code": self.code} if with_code else {}
        row.update({key: self.counts.get(key, 0) for key in COUNT_KEYS})
        row[PERCENT_KEY] = self.followup_complete_percent
        return row


@dataclass
class Report:
    cutoff: dt.date
    sites: list[SiteRow]
    total: SiteRow
    screen_failure_reasons: list[tuple[str, int]]

    def as_dict(self) -> dict:
        return {"cutoff": self.cutoff.isoformat(), "sites": [s.as_dict() for s in self.sites],
                "total": self.total.as_dict(with_code=False)}


def _screened(cutoff, site_ids) -> Counter:
    """Patients whose first screening is on or before the cut-off (who have one on or before it), counted in
    the database per site."""
    screened = Patient.objects.filter(Exists(Screening.objects.filter(patient=OuterRef("pk"),
                                                                      screening_date__lte=cutoff)))
    return _grouped(screened, "site_id", site_ids)


def _grouped(queryset, site_path: str, site_ids) -> Counter:
    if site_ids is not None:
        queryset = queryset.filter(**{f"{site_path}__in": site_ids})
    return Counter({row[site_path]: row["n"] for row in
                    queryset.values(site_path).annotate(n=Count("pk")).order_by()})


def _queries_as_of(cutoff, site_ids) -> tuple[Counter, Counter]:
    """(open, overdue) per site as of the cut-off, from each query's last history row before it ends."""
    end = end_of_day(cutoff)
    history = DataQuery.history.filter(history_date__lt=end)
    if site_ids is not None:
        history = history.filter(patient__site_id__in=site_ids)
    latest = {}
    for row in history.order_by("id", "history_date", "history_id").values(
            "id", "status", "waiting_since", "patient__site_id", "history_type"):
        latest[row["id"]] = row
    open_, overdue = Counter(), Counter()
    for row in latest.values():
        if row["history_type"] == "-":
            continue
        status = querystate.Status(row["status"])
        if querystate.is_open(status):
            open_[row["patient__site_id"]] += 1
            if querystate.is_overdue(status, row["waiting_since"], cutoff):
                overdue[row["patient__site_id"]] += 1
    return open_, overdue


def _expedited_reports(cutoff, site_ids) -> Counter:
    """Expedited safety reports signed on or before the cut-off (first, second and follow-up reports)."""
    return _grouped(ExpeditedReport.objects.filter(signed_at__lt=end_of_day(cutoff)),
                    "adverse_event__patient__site_id", site_ids)


def _followup_known(cutoff, site_ids) -> tuple[Counter, Counter]:
    """(known, randomized) per site: randomized patients whose status at the cut-off is known
    (followup.selectors.status_as_of: dead, lost, withdrawn, or known alive recently enough)."""
    patients = Patient.objects.all() if site_ids is None else Patient.objects.filter(site_id__in=site_ids)
    known, total = Counter(), Counter()
    for row in followup_selectors.status_as_of(patients, cutoff):
        total[row.site_id] += 1
        known[row.site_id] += row.known
    return known, total


def _percent(known: int, total: int) -> float | None:
    return round(100 * known / total, 1) if total else None


def _criterion_order(item: tuple[str, int]) -> tuple:
    """Most frequent first; ties by criterion, P2 before P10 (the family letter, then the number), "?" last."""
    criterion, n = item
    prefix = criterion.rstrip("0123456789")
    number = criterion[len(prefix):]
    return -n, criterion == "?", prefix, int(number) if number else -1, criterion


def screen_failure_reasons(cutoff, site_ids) -> list[tuple[str, int]]:
    """First failed criterion of screen failures screened by the cut-off (the screening log's reasons):
    the verdict's first `failed` criterion, else its first `excluded_by`, else "?".

    Counted in the database (one GROUP BY on the JSON's first elements): loading every failure's verdict
    snapshot (every criterion with its reason) cost seconds per 10,000 screenings."""
    rows = Screening.objects.filter(screening_date__lte=cutoff, outcome=Screening.Outcome.NOT_ELIGIBLE)
    if site_ids is not None:
        rows = rows.filter(patient__site_id__in=site_ids)
    first = Coalesce(KT("verdict__failed__0"), KT("verdict__excluded_by__0"), Value("?", output_field=TextField()))
    counts = rows.annotate(criterion=first).values("criterion").annotate(n=Count("pk")).order_by()
    return sorted(((row["criterion"], row["n"]) for row in counts), key=_criterion_order)


def report(*, cutoff: dt.date, site_ids: set[int] | None = None) -> Report:
    sites = Site.objects.order_by("code")
    if site_ids is not None:
        sites = sites.filter(pk__in=site_ids)
    end = end_of_day(cutoff)
    open_queries, overdue_queries = _queries_as_of(cutoff, site_ids)
    measures = {
        "screened": _screened(cutoff, site_ids),
        "primary_registered": _grouped(PrimaryRegistration.objects.filter(registration_date__lte=cutoff),
                                       "patient__site_id", site_ids),
        "randomized": _grouped(Allocation.objects.filter(allocated_at__lt=end), "patient__site_id", site_ids),
        "open_queries": open_queries,
        "overdue_queries": overdue_queries,
        "deviations": _grouped(Deviation.objects.filter(date__lte=cutoff, recorded_at__lt=end), "site_id",
                               site_ids),
        "expedited_reports": _expedited_reports(cutoff, site_ids),
    }
    known, followed = _followup_known(cutoff, site_ids)
    rows = [SiteRow(site.code, site.name, {key: measures[key].get(site.pk, 0) for key in COUNT_KEYS},
                    _percent(known[site.pk], followed[site.pk]))
            for site in sites]
    total = SiteRow("", "", {key: sum(r.counts[key] for r in rows) for key in COUNT_KEYS},
                    _percent(sum(known[s.pk] for s in sites), sum(followed[s.pk] for s in sites)))
    return Report(cutoff, rows, total, screen_failure_reasons(cutoff, site_ids))


def cached_report(*, cutoff: dt.date, site_ids: set[int] | None, today: dt.date) -> Report:
    """`report`, reused while no audited write has committed and the day is the same (oligami_site.dataversion):
    one entry per cut-off, language (the rows carry the sites' names in it) and scope. At 100,000 patients a
    report costs seconds; a cache hit one query."""
    return dataversion.cached(f"monitoring-{cutoff.isoformat()}-{get_language()}", dataversion.scope_key(site_ids),
                              today, lambda: report(cutoff=cutoff, site_ids=site_ids))
