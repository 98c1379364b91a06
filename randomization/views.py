"""Pages of the randomization app: the result of one patient's allocation, the balance report and the
statistician's export of the allocation log.

Thin: scoping comes from oligami_site.access; the data from selectors. No page reads the allocation list.
Concealment (issue 13): site staff and monitors see their own patients' arms (the result page) and no arm
counts; data managers the totals by arm; the statistician the balance by site and factor and the internals.
"""


from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from oligami_site import access, csvfiles
from oligami_site.access import Action

from .models import Allocation
from .selectors import allocation_log_rows, balance_for, chart, factor_rows


@login_required
def result(request, patient_id: int):
    """The site's record of a randomization: arm, date, signature, and what happens next."""
    record = access.get_scoped_or_404(
        Allocation.objects.select_related("patient__site", "signature__user"), request.user, Action.VIEW,
        site_field="patient__site", patient_id=patient_id,
    )
    return render(request, "randomization/result.html", {"allocation": record, "factor_rows": factor_rows(record)})


def _balance_or_404(user):
    balance = balance_for(user)
    if balance is None:
        raise Http404
    return balance


@login_required
def balance(request):
    """The statistician: arms by every site and factor level, totals and a bar chart. Data managers: the
    totals by arm. Nobody else (404)."""
    report = _balance_or_404(request.user)
    return render(request, "randomization/balance.html", {
        "balance": report, "chart": chart(report) if report.groups else None,
        "allocation_log": access.sees_allocation_internals(request.user)})


@login_required
def balance_csv(request):
    report = _balance_or_404(request.user)
    rows = [[group.label, row.label, row.a, row.b, row.total, row.diff] for group in report.groups
            for row in group.rows]
    rows.append([_("all"), "", report.total_a, report.total_b, report.total, report.diff])
    # Through the CSV kit: factor and level labels come from the set-up, so they get the formula guard too.
    return csvfiles.response(csvfiles.lines([_("factor"), _("level"), "A", "B", _("total"), "|A-B|"], rows),
                             filename="oligami-balance.csv", excel=csvfiles.wants_excel(request))


@login_required
def allocations_csv(request):
    """The allocation log with its internals (preferred arm, uniform draw, counts before...): the
    statistician's only (403 for everyone else; the data managers' export leaves them out)."""
    if not access.sees_allocation_internals(request.user):
        raise PermissionDenied
    header, rows = allocation_log_rows()
    stamp = timezone.localdate().isoformat()
    return csvfiles.response(csvfiles.lines(header, rows), filename=f"oligami-allocation-log-{stamp}.csv",
                             excel=csvfiles.wants_excel(request))
