from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from oversight import dashboards

from . import lockout, site_views, two_factor
from .forms import StyledAuthenticationForm, StyledPasswordChangeForm
from .language import set_user_language

urlpatterns = [
    path("", dashboards.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(
        template_name="accounts/login.html", authentication_form=StyledAuthenticationForm,
        redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change.html", form_class=StyledPasswordChangeForm),
        name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="accounts/password_change_done.html"), name="password_change_done"),
    path("accounts/language/", set_user_language, name="set_user_language"),
    path("accounts/two-factor/", two_factor.manage, name="two_factor"),
    path("accounts/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("accounts/two-factor/verify/", two_factor.verify, name="two_factor_verify"),
    path("accounts/locked/", lockout.locked_accounts, name="locked_accounts"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("sites/", site_views.site_list, name="sites"),
    path("sites/<int:pk>/", site_views.site_detail, name="site_detail"),
    path("sites/<int:pk>/approval/", site_views.site_approval, name="site_approval"),
    path("sites/<int:pk>/status/", site_views.site_change_status, name="site_change_status"),
    path("screening/", include("screening.urls")),
    path("registration/", include("registration.urls")),
    path("calendar/", include("registration.calendar_urls")),  # deadlines feed (token URL, no login)
    path("randomization/", include("randomization.urls")),
    path("followup/", include("followup.urls")),
    path("safety/", include("safety.urls")),  # adverse events and expedited reports (issue 18)
    path("", include("oversight.urls")),  # audit trail, reports, exports
    path("queries/", include("oversight.query_urls")),  # data queries (issue 19)
    path("deviations/", include("oversight.deviation_urls")),  # protocol deviations (issue 19)
    path("admin/", admin.site.urls),
]
