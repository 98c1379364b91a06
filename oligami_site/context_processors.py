from . import access


def navigation(request):
    """What the navigation bar offers: decided by the user's roles, through access.py only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "site_staff": access.has_any_site_role(user),
            "data_manager": access.is_data_manager(user),
            "statistician": access.is_statistician(user),
            "admin": user.is_staff,
        }
    }
