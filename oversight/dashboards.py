from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from followup import reconsent
from followup import views as followup_views
from oligami_site import access
from oligami_site.models import Membership
from registration.views import render_worklist

from . import todo


@login_required
def home(request):
    """Site users: their worklist (with their sites and roles); data managers: the trial-wide to-do
    (oversight/todo.py); statisticians and others: their roles."""
    if access.has_any_site_role(request.user):
        return render_worklist(request, sections=[reconsent.worklist_section(request),
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
    return render(request, "oversight/home.html", {
        "memberships": memberships,
        "trial_roles": trial_roles,
        "visible_sites": access.sites_for(request.user) if not memberships else None,
        "todo": todo.sections(request.user) if access.is_data_manager(request.user) else None,
    })
