from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _

from . import accounts


class StyledAuthenticationForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Log in")))


class StyledPasswordChangeForm(PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Change password")))


class StyledSetPasswordForm(SetPasswordForm):
    """A new password, twice (activation and reset): the validators of settings.AUTH_PASSWORD_VALIDATORS."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Set password")))


class ConfirmPasswordForm(forms.Form):
    """An account that has a password and follows a set-up link: the password proves the person, the link
    the mailbox. Checked through authenticate(), so django-axes counts a wrong one and refuses a locked account."""

    password = forms.CharField(label=_("Your password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                 "autofocus": True}))

    def __init__(self, user, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.request = user, request
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Continue")))

    def clean(self):
        password = self.cleaned_data.get("password")
        if password is not None:
            authenticated = authenticate(self.request, username=self.user.get_username(), password=password)
            if authenticated is None or authenticated.pk != self.user.pk:
                raise forms.ValidationError(_("The password is not correct."), code="password_incorrect")
            self.user = authenticated  # carries the backend that authenticated it, for login()
        return self.cleaned_data

    def save(self, commit=True):
        return self.user


class StyledPasswordResetForm(PasswordResetForm):
    """Django's reset form, rate-limited, sending through oligami_site.accounts (the user's language, links on
    SITE_URL). Every valid request gets the same answer (PasswordResetView's redirect), sent or not."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Send the link")))

    def get_users(self, email):
        # Django's also skips accounts without a usable password; here those are accounts not yet activated
        # (whose link may have expired): the reset proves the same mailbox as the activation would.
        return (user for user in get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
                if user.email and user.email.casefold() == email.casefold())

    def save(self, *, request=None, **kwargs):
        email = self.cleaned_data["email"]
        address = request.META.get("REMOTE_ADDR") if request is not None else None
        if not accounts.may_send_reset(email=email, client_address=address):
            return
        for user in self.get_users(email):
            accounts.send_password_reset(user=user)
