from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import access
from .models import Membership


@login_required
def home(request):
    """The signed-in user's sites and roles (site users) or trial-wide roles (data centre)."""
    memberships = (
        Membership.objects.filter(user=request.user, active=True, site__active=True)
        .select_related("site")
        .order_by("site__code")
    )
    trial_roles = [
        role for role, has in (
            (access.TrialRole.DATA_MANAGER, access.is_data_manager(request.user)),
            (access.TrialRole.STATISTICIAN, access.is_statistician(request.user)),
        ) if has
    ]
    return render(request, "oligami_site/home.html", {
        "memberships": memberships,
        "trial_roles": trial_roles,
        "visible_sites": access.sites_for(request.user) if not memberships else None,
    })
