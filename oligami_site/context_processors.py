from . import access, two_factor


def navigation(request):
    """What the navigation bar offers: decided by the user's roles, through access.py only.

    A user who still owes the second factor (enrolment or the code of this login) gets no trial pages in
    the bar: every one of them would send them back to the two-factor page anyway (TwoFactorMiddleware).
    Each link is offered only to the roles its view serves, so no menu item answers its own user with 403
    (tests/oligami_site/test_navigation.py follows every link of every role).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    if two_factor.pending(request):
        return {"nav": {"pending_second_factor": True}}
    site_staff = access.has_any_site_role(user)
    return {
        "nav": {
            "site_staff": site_staff,
            "data_manager": access.is_data_manager(user),
            "statistician": access.is_statistician(user),
            "admin": user.is_staff,
            "patients": site_staff or access.is_data_manager(user),
            "reports": site_staff or access.is_data_manager(user) or access.is_statistician(user),
            "balance": access.sees_arm_totals(user),  # site staff see no arm counts (issue 13)
        }
    }
