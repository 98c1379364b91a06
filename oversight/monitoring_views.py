"""The central monitoring report page and its CSV: data managers (all sites), monitors and site staff
(their sites). Numbers from oversight/monitoring.py, as of the chosen cut-off."""

from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, csvfiles
from oligami_site.widgets import IsoDateInput

from . import monitoring

LABELS = {
    "screened": _("Screened"),
    "primary_registered": _("Primary registered"),
    "randomized": _("Randomized"),
    "open_queries": _("Open queries"),
    "overdue_queries": _("Overdue queries"),
    "deviations": _("Deviations"),
    "expedited_reports": _("Expedited reports"),
    "followup_complete_percent": _("Follow-up complete (%)"),
}
BAR_WIDTH = 240


class CutoffForm(forms.Form):
    cutoff = forms.DateField(label=_("Cut-off date"), widget=IsoDateInput())


def _scope(user):
    if access.is_data_manager(user):
        return None
    if access.has_any_site_role(user):
        return access.site_ids_for(user)
    raise PermissionDenied


def _cutoff(request) -> tuple[CutoffForm, date]:
    form = CutoffForm(request.GET or {"cutoff": timezone.localdate().isoformat()})
    cutoff = form.cleaned_data["cutoff"] if form.is_valid() else timezone.localdate()
    return form, cutoff


def _bars(result):
    """Per measure, one bar per site scaled to the measure's largest site (SVG attributes, no styles)."""
    pictures = []
    for key in ("screened", "primary_registered", "randomized", "open_queries", "deviations"):
        largest = max([row.counts[key] for row in result.sites] + [1])
        bars = [{"code": row.code, "n": row.counts[key], "y": 4 + i * 18,
                 "width": round(BAR_WIDTH * row.counts[key] / largest)} for i, row in enumerate(result.sites)]
        pictures.append({"key": key, "label": LABELS[key], "bars": bars, "height": 8 + 18 * len(bars)})
    return pictures


@login_required
def monitoring_report(request):
    site_ids = _scope(request.user)
    form, cutoff = _cutoff(request)
    result = monitoring.cached_report(cutoff=cutoff, site_ids=site_ids, today=timezone.localdate())
    return render(request, "oversight/monitoring.html", {
        "form": form, "result": result, "keys": monitoring.COUNT_KEYS, "labels": LABELS,
        "pictures": _bars(result), "bar_width": BAR_WIDTH,
        "rows": [(row, [row.counts[key] for key in monitoring.COUNT_KEYS]) for row in result.sites],
        "total": [result.total.counts[key] for key in monitoring.COUNT_KEYS],
    })


@login_required
def monitoring_report_csv(request):
    site_ids = _scope(request.user)
    _form, cutoff = _cutoff(request)
    result = monitoring.cached_report(cutoff=cutoff, site_ids=site_ids, today=timezone.localdate())
    keys = [*monitoring.COUNT_KEYS, monitoring.PERCENT_KEY]
    header = [gettext("Cut-off date"), gettext("Site"), *(str(LABELS[k]) for k in keys)]
    rows = [[cutoff.isoformat(), row["code"], *("" if row[k] is None else row[k] for k in keys)]
            for row in [*(s.as_dict() for s in result.sites),
                        {"code": gettext("Total"), **result.total.as_dict(with_code=False)}]]
    return csvfiles.response(csvfiles.lines(header, rows), filename=f"monitoring-{cutoff.isoformat()}.csv",
                             excel=csvfiles.wants_excel(request))
