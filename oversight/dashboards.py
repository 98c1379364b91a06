from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from followup import reconsent
from followup import views as followup_views
from oligami_site import access
from oligami_site.models import Membership, Site
from registration.views import render_worklist
from safety import selectors as safety_selectors
from safety import views as safety_views

from . import todo


@login_required
def home(request):
    """Site users: their worklist (with their sites and roles); data managers: the trial-wide to-do
    (oversight/todo.py); statisticians and others: their roles."""
    if access.has_any_site_role(request.user):
        return render_worklist(request, sections=[safety_views.deadlines_section(request),
                                                  reconsent.worklist_section(request),
                                                  followup_views.assessments_due_section(request)])
    memberships = (
        Membership.objects.filter(user=request.user, active=True)
        .select_related("site")
        .order_by("site__code")
    )
    trial_roles = [
        role for role, has in (
            (access.TrialRole.DATA_MANAGER, access.is_data_manager(request.user)),
            (access.TrialRole.STATISTICIAN, access.is_statistician(request.user)),
        ) if has
    ]
    overdue = None
    if access.is_data_manager(request.user):
        # Per site: events whose expedited report deadline passed unsigned (SAFETY.md; issue 18).
        counts = safety_selectors.overdue_by_site(timezone.now())
        overdue = [(site, counts[site.pk]) for site in Site.objects.filter(pk__in=list(counts)).order_by("code")]
    return render(request, "oversight/home.html", {
        "overdue_reports": overdue,
        "memberships": memberships,
        "trial_roles": trial_roles,
        "visible_sites": access.sites_for(request.user) if not memberships else None,
        "todo": todo.sections(request.user) if access.is_data_manager(request.user) else None,
        "is_statistician": access.is_statistician(request.user),
    })
