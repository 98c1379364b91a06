"""The pages of activation (issue 13; the tokens, mails and limits are in oligami_site.accounts).

ActivateView is Django's PasswordResetConfirmView with the activation token: the link's token moves into
the session and out of the address bar (no leak through the Referer header), a bad, expired, used or
malformed link gets the "link not valid" page (200, never a 500), and the form depends on the account:
- no usable password yet (a new account): set one, twice;
- a password already (sent to enrol a second factor, oligami_site.two_factor): give it (django-axes counts
  a wrong one).
Then the user is logged in; a user whose role needs a second factor and who has no device is granted the
enrolment in this session (two_factor.grant_enrolment) and sent to it, so the secret is shown only after the
link and the password, never after the password alone.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from . import accounts, two_factor
from .forms import ConfirmPasswordForm, StyledSetPasswordForm

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class ActivateView(PasswordResetConfirmView):
    token_generator = accounts.activation_tokens
    template_name = "accounts/activate.html"
    title = _("Activate your account")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def get_form_class(self):
        has_password = self.user is not None and self.user.has_usable_password()  # None: a link not valid
        return ConfirmPasswordForm if has_password else StyledSetPasswordForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if self.get_form_class() is ConfirmPasswordForm:
            kwargs["request"] = self.request
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(hours=accounts.ACTIVATION_VALID_HOURS, has_password=bool(
            self.user is not None and self.user.has_usable_password()),
            two_factor=bool(self.user is not None and two_factor.required_for(self.user)))
        return context

    def form_valid(self, form):
        new_password = isinstance(form, StyledSetPasswordForm)
        user = form.save()  # a new password spends the link; the login below spends it in any case
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        login(self.request, user, backend=None if hasattr(user, "backend") else MODEL_BACKEND)
        if two_factor.required_for(user) and two_factor.confirmed_device(user) is None:
            two_factor.grant_enrolment(self.request)
            return HttpResponseRedirect(f"{reverse('two_factor_setup')}?{urlencode({'next': reverse('home')})}")
        if new_password:
            messages.success(self.request, _("Your password is set and your account is active."))
        return HttpResponseRedirect(reverse("home"))
