"""The user admin's part in onboarding (issue 13): a new account is created without a password and its owner
gets the one-time activation link by e-mail (oligami_site.accounts); "Send activation link" sends it again
(an expired link, or a second factor to set up after a lost phone). Trial administrators (superusers) only.

A mixin, so that the user admin itself (oligami_site/admin.py: separation of duties, role history) stays one
class: `class OligamiUserAdmin(TrialAdministratorOnly, OnboardingAdminMixin, AuditedAdmin, UserAdmin)`.
"""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import accounts
from .models import User


class NewAccountForm(forms.ModelForm):
    """Who the person is and where the link goes; no password field (nobody but its owner ever knows it)."""

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "preferred_language")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = _("The activation link (valid %(hours)s hours) goes to this address.") % {
            "hours": accounts.ACTIVATION_VALID_HOURS}

    def clean_username(self):
        username = self.cleaned_data.get("username")
        if username and User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("A user with that username already exists."), code="unique")
        return username


class OnboardingAdminMixin:
    add_form = NewAccountForm
    add_form_template = None  # the plain add page (UserAdmin's asks for a username and a password first)
    add_fieldsets = ((None, {"fields": ("username", "first_name", "last_name", "email", "preferred_language")}),)
    actions = ["send_activation_links"]

    def has_send_activation_permission(self, request):
        return request.user.is_superuser  # only the trial administrator onboards people

    def save_model(self, request, obj, form, change):
        if not change:
            accounts.prepare_new_account(obj)
        super().save_model(request, obj, form, change)
        if not change:
            accounts.send_activation_after_commit(user=obj)
            messages.info(request, _("An activation link (valid %(hours)s hours) is being e-mailed to %(email)s.")
                          % {"hours": accounts.ACTIVATION_VALID_HOURS, "email": obj.email})

    @admin.action(description=_("Send activation link"), permissions=["send_activation"])
    def send_activation_links(self, request, queryset):
        sent = 0
        for user in queryset.order_by("pk"):
            try:
                accounts.send_activation(user=user)
                sent += 1
            except accounts.AccountError as error:
                messages.error(request, error.message)
        if sent:
            messages.success(request, ngettext("An activation link was e-mailed to %(count)d user.",
                                               "An activation link was e-mailed to each of %(count)d users.",
                                               sent) % {"count": sent})
