"""Two-factor authentication (django-otp, TOTP): who needs it, the pages to enrol and verify, the admin site.

- Required for data managers, statisticians and everyone who may use the admin (staff, superusers): once
  logged in with the password, they are sent to enrol an authenticator app (first time) or to enter its
  6-digit code before any other page (TwoFactorMiddleware). The admin site itself also refuses an
  unverified session (OTPRequiredAdminSite), so a gap in the middleware cannot open it.
- Optional for site users (coordinators, investigators, monitors): they may enrol on the "Two-factor
  authentication" page; from then on their logins ask for the code as well.
- A wrong code counts like a failed login (``user_login_failed``: django-axes locks the username after
  5 failures, see lockout.py); django-otp also throttles each device (exponential back-off) and refuses
  a code that was already used.
- Enrolment shows the otpauth:// URI, its QR code (SVG drawn on the server by segno: no script, no style
  attribute) and the base32 secret, until the first code confirms the device; never again after that.
- Who may see that secret (issue 13: the password alone must not be enough): a user whose password login
  is complete (a site user, for whom the code is optional) on the profile page, or a session granted the
  enrolment by the activation link (oligami_site.account_views: the link from the account's mailbox, then
  the password). A user who must enrol and arrives with the password only is offered a link by e-mail
  (oligami_site.accounts.send_enrolment_link, rate-limited) and logged out.
- A lost phone: an administrator deletes the user's device in the admin ("TOTP devices"); at the next
  login the user asks for the set-up link by e-mail (or the administrator sends it: send_activation).
"""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import access

# Whether the user of this session has a confirmed device: kept in the session at login (and on enrolment
# or removal), so that pages of site users cost no extra query to decide whether to ask for a code.
ENROLLED_SESSION_KEY = "oligami_otp_enrolled"

# The activation link granted this session the enrolment of this user id (account_views.ActivateView).
ENROL_GRANT_SESSION_KEY = "oligami_otp_enrol_grant"

# Pages an unverified user who needs the second factor may still reach (the activation and reset pages too:
# a link from the mailbox may be opened in a browser that still holds a password-only session).
ALLOWED_UNVERIFIED = {"login", "logout", "set_language", "set_user_language", "two_factor_setup",
                      "two_factor_verify", "admin:logout", "activate", "password_reset", "password_reset_done",
                      "password_reset_confirm", "password_reset_complete"}


def required_for(user) -> bool:
    """Trial-wide roles and admin users must use a second factor."""
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser or access.is_data_manager(user)
                                           or access.is_statistician(user)))


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def needs_second_factor(user) -> bool:
    """Whether a login of this user is complete only with a one-time code."""
    return required_for(user) or confirmed_device(user) is not None


def is_verified(user) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def _enrolled(request) -> bool:
    enrolled = request.session.get(ENROLLED_SESSION_KEY)
    if enrolled is None:
        enrolled = confirmed_device(request.user) is not None
        request.session[ENROLLED_SESSION_KEY] = enrolled
    return enrolled


def pending(request) -> bool:
    """Whether this session still owes the second factor (TwoFactorMiddleware sends it to enrol or verify)."""
    user = request.user
    if not user.is_authenticated or is_verified(user):
        return False
    return _enrolled(request) or required_for(user)


@receiver(user_logged_in, dispatch_uid="oligami_otp_enrolled_flag")
def _remember_enrolment(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = confirmed_device(user) is not None


class TwoFactorMiddleware:
    """Send a logged-in user who needs the second factor and has not given it to enrol or verify first.

    Sits after django_otp's OTPMiddleware (which sets request.user.is_verified()).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or is_verified(user):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in ALLOWED_UNVERIFIED:
            return None
        if not pending(request):
            return None  # a site user who has not enrolled: the password is enough
        target = "two_factor_verify" if _enrolled(request) else "two_factor_setup"
        return redirect(f"{reverse(target)}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}")


class OTPRequiredAdminSite(admin.AdminSite):
    """The admin, open only to sessions verified with a second factor (as django-otp's OTPAdminSite)."""

    def has_permission(self, request):
        return super().has_permission(request) and is_verified(request.user)


# --- pages ----------------------------------------------------------------------------------------------


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code from your authenticator app"), min_length=6, max_length=8, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True, "class": "form-control", "pattern": "[0-9 ]*"}))

    def clean_token(self):
        token = self.cleaned_data["token"].replace(" ", "")
        if not token.isascii() or not token.isdigit():
            raise forms.ValidationError(_("Enter the digits shown by your authenticator app."))
        return token


class RemoveForm(forms.Form):
    password = forms.CharField(label=_("Your password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                 "class": "form-control"}))


def _next_url(request, default="home") -> str:
    """Where to go after the code: a path of this site only (never another host, never a URL name)."""
    url = str(request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or "")
    if (url.startswith("/") and url.isprintable()
            and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure())):
        return url
    return reverse(default)


def _count_failure(request, purpose: str):
    """A wrong code is a failed login: recorded (audit) and counted by django-axes."""
    user_login_failed.send(sender=__name__, credentials={"username": request.user.get_username(),
                                                         "purpose": purpose}, request=request)


def grant_enrolment(request):
    """This session may enrol its user (called by the activation page after the link and the password)."""
    request.session[ENROL_GRANT_SESSION_KEY] = request.user.pk


def may_see_secret(request) -> bool:
    """Whether this session may be shown a new TOTP secret (see the module docstring)."""
    user = request.user
    if not required_for(user):
        return True  # a site user: the password completes the login; the code is their own choice
    return is_verified(user) or request.session.get(ENROL_GRANT_SESSION_KEY) == user.pk


def _complete_login(request, device):
    request.session.cycle_key()  # a new session key for the now fully authenticated session
    otp_login(request, device)
    request.session[ENROLLED_SESSION_KEY] = True
    request.session.pop(ENROL_GRANT_SESSION_KEY, None)
    from .lockout import reset_failures

    reset_failures(request.user.get_username())


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The second step of the login: the code of the user's authenticator app."""
    device = confirmed_device(request.user)
    if device is None:
        request.session[ENROLLED_SESSION_KEY] = False  # e.g. removed in another session
        if not required_for(request.user):
            return HttpResponseRedirect(_next_url(request))
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({REDIRECT_FIELD_NAME: _next_url(request)})}")
    if is_verified(request.user):
        return HttpResponseRedirect(_next_url(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            allowed, _details = device.verify_is_allowed()
            if device.verify_token(form.cleaned_data["token"]):
                _complete_login(request, device)
                return HttpResponseRedirect(_next_url(request))
            form.add_error("token", _("This code is not correct (or was already used). Wait for the next code "
                                      "and try again.") if allowed else
                           _("Too many wrong codes: wait a little before the next try."))
        _count_failure(request, "otp")
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)})


def _qr_svg(url: str) -> str:
    # segno writes plain SVG elements with presentation attributes: no script, no style attribute (CSP).
    svg = segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff", title=str(_("QR code to scan")))
    # Waiver: SVG generated by segno from our own otpauth URI (a validated username), no user-written HTML.
    return mark_safe(svg)  # noqa: S308  # nosec B308 B703


def _grouped(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Enrol an authenticator app: scan the QR code (or type the secret), then confirm with its first code."""
    if confirmed_device(request.user) is not None:
        if not is_verified(request.user):
            return redirect(f"{reverse('two_factor_verify')}?{urlencode({REDIRECT_FIELD_NAME: _next_url(request)})}")
        messages.info(request, _("Two-factor authentication is already set up."))
        return redirect("two_factor")
    if not may_see_secret(request):
        return _enrol_by_link(request)
    device = (TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("-pk").first()
              or TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()  # audit-ok: auth state, no history
            _complete_login(request, device)
            messages.success(request, _("Two-factor authentication is set up: from now on, log in with your "
                                        "password and a code from the app."))
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", _("This code is not correct. Check the time of your phone and try the next code."))
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "accounts/two_factor_setup.html", {
        "form": form, "next": _next_url(request), "config_url": device.config_url, "qr_svg": _qr_svg(device.config_url),
        "secret": _grouped(secret), "required": required_for(request.user),
    })


def _enrol_by_link(request):
    """A user who must enrol and has given the password only: the set-up link goes to the account's mailbox.

    GET explains; POST (the button) sends the link (rate-limited), ends the password-only session and shows
    the same page whether a mail went out or not."""
    if request.method == "POST":
        from .accounts import send_enrolment_link

        send_enrolment_link(user=request.user)
        logout(request)
        return render(request, "accounts/two_factor_link_sent.html")
    return render(request, "accounts/two_factor_link.html")


@login_required
@require_http_methods(["GET", "POST"])
def manage(request):
    """The user's two-factor page: status, enrol, and (for site users only) remove with the password."""
    device = confirmed_device(request.user)
    required = required_for(request.user)
    form = RemoveForm(request.POST or None)
    if request.method == "POST":
        if device is None or required:
            messages.error(request, _("Two-factor authentication cannot be removed for your role."))
            return redirect("two_factor")
        if form.is_valid():
            if request.user.check_password(form.cleaned_data["password"]):
                TOTPDevice.objects.filter(user=request.user).delete()  # audit-ok: authentication state, no history
                request.session.pop(DEVICE_ID_SESSION_KEY, None)
                request.session[ENROLLED_SESSION_KEY] = False
                messages.success(request, _("Two-factor authentication is removed."))
                return redirect("two_factor")
            form.add_error("password", _("The password is not correct."))
            _count_failure(request, "two_factor_removal")
    return render(request, "accounts/two_factor.html", {"device": device, "required": required, "form": form})
