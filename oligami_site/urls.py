from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from django.views.i18n import set_language

from oversight import dashboards

from . import lockout, site_views, two_factor
from .account_views import ActivateView
from .forms import StyledAuthenticationForm, StyledPasswordChangeForm, StyledPasswordResetForm, StyledSetPasswordForm
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
    # Password reset by e-mail with Django's own views (issue 13): rate-limited, no account enumeration, the
    # mail sent by oligami_site.accounts; the reset does not log in (the login then asks for the code).
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(
        template_name="accounts/password_reset_form.html", form_class=StyledPasswordResetForm),
        name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="accounts/password_reset_done.html"), name="password_reset_done"),
    path("accounts/password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html", form_class=StyledSetPasswordForm,
        success_url=reverse_lazy("password_reset_complete")), name="password_reset_confirm"),
    path("accounts/password-reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"), name="password_reset_complete"),
    # The one-time activation link of a new account, or the set-up link of the second factor (issue 13).
    path("accounts/activate/<uidb64>/<token>/", ActivateView.as_view(), name="activate"),
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
    path("sites/<int:pk>/enrolment-cap/", site_views.site_enrolment_cap, name="site_enrolment_cap"),
    path("sites/<int:pk>/enrolment-request/", site_views.site_enrolment_request, name="site_enrolment_request"),
    path("sites/<int:pk>/enrolment-requests/<int:request_pk>/", site_views.site_enrolment_decision,
         name="site_enrolment_decision"),
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
