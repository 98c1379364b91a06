"""Pages of the randomization app: the result of one patient's allocation and the balance report.

Thin: scoping comes from oligami_site.access; the data from selectors. No page reads the allocation list.
"""


from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from oligami_site import access, csvfiles
from oligami_site.access import Action

from .models import Allocation
from .selectors import balance_for, chart, factor_rows


@login_required
def result(request, patient_id: int):
    """The site's record of a randomization: arm, date, signature, and what happens next."""
    record = access.get_scoped_or_404(
        Allocation.objects.select_related("patient__site"), request.user, Action.VIEW,
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
    """Arms by every factor level, totals and a bar chart (own sites only for site staff and monitors)."""
    report = _balance_or_404(request.user)
    return render(request, "randomization/balance.html", {"balance": report, "chart": chart(report)})


@login_required
def balance_csv(request):
    report = _balance_or_404(request.user)
    rows = [[group.label, row.label, row.a, row.b, row.total, row.diff] for group in report.groups
            for row in group.rows]
    rows.append([_("all"), "", report.total_a, report.total_b, report.total, report.diff])
    # Through the CSV kit: factor and level labels come from the set-up, so they get the formula guard too.
    return csvfiles.response(csvfiles.lines([_("factor"), _("level"), "A", "B", _("total"), "|A-B|"], rows),
                             filename="oligami-balance.csv", excel=csvfiles.wants_excel(request))
