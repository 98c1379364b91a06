"""The admin console's core models: sites, and the accounts with their roles (issue 13: separation of duties).

Accounts and roles are the trial administrator's (superuser's) alone: creating accounts, granting roles
(groups, permissions, superuser and staff flags, site memberships), setting passwords and managing
two-factor devices. Every such page here asks `request.user.is_superuser` on top of Django's model
permissions (TrialAdministratorOnly), so a permission granted by mistake to a group or a person opens
nothing. Data managers read users and memberships (view permission, roles.py). Nobody changes their own
roles, and no account holds a trial-wide role and a signing site role (oligami_site.duties).
"""

from contextvars import ContextVar

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import auditing, duties
from .access import TrialRole
from .account_admin import OnboardingAdminMixin
from .audited_admin import (
    REASON_FIELD,
    AuditedAdmin,
    BoundedChangelistMixin,
    ReadOnlyAuditedAdmin,
    ReadOnlyMixin,
    SafeAutocompleteMixin,
    SiteListFilter,
)
from .models import AccessEvent, EnrolmentRequest, Membership, Site, User

admin.site.site_header = _("OLIGAMI data centre")
admin.site.site_title = _("OLIGAMI")

# The fields of an account that are its roles: a change to one of them is a role grant (or withdrawal).
ROLE_FIELDS = ("groups", "user_permissions", "is_superuser", "is_staff")
SELF_ROLES_MESSAGE = _("You cannot change your own roles (groups, permissions, superuser or staff status): another "
                       "trial administrator does it, and the audit trail shows who.")

# The administrator who sets a password in the admin, for the history row of that save (the password
# form is built by Django's view without the request).
_password_actor: ContextVar = ContextVar("oligami_password_actor", default=None)


class TrialAdministratorOnly:
    """Add, change and delete for the trial administrator (superuser) only, whatever permissions say."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


def _refusal(refused: duties.RoleGrantRefused) -> ValidationError:
    return ValidationError(refused.message, code=refused.code)


# --- accounts ----------------------------------------------------------------------------------------------


class AccountRolesForm(forms.ModelForm):
    """The user change form's role checks: not one's own roles; no trial-wide role beside a signing one."""

    actor = None  # the administrator of this request (set by OligamiUserAdmin.get_form)

    def clean(self):
        data = super().clean()
        user = self.instance
        if user.pk is None:
            return data
        if self.actor is not None and self.actor.pk == user.pk and set(ROLE_FIELDS) & set(self.changed_data):
            self.add_error(None, SELF_ROLES_MESSAGE)
        groups = data.get("groups") if "groups" in self.fields else user.groups.all()
        is_superuser = data.get("is_superuser") if "is_superuser" in self.fields else user.is_superuser
        try:
            duties.check_account(user, group_names=[g.name for g in groups or []], is_superuser=bool(is_superuser))
        except duties.RoleGrantRefused as refused:
            self.add_error(None, _refusal(refused))
        return data


class MembershipInlineFormSet(BaseInlineFormSet):
    """The memberships of one account: never granted by the account's own holder."""

    actor = None  # set by MembershipInline.get_formset

    def clean(self):
        super().clean()
        if any(form.has_changed() for form in self.forms):
            try:
                duties.check_not_self(actor=self.actor, user=self.instance)
            except duties.RoleGrantRefused as refused:
                raise _refusal(refused) from None


class MembershipInline(SafeAutocompleteMixin, TrialAdministratorOnly, admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    extra = 0
    can_delete = False  # deactivate instead: who worked where stays on record
    autocomplete_fields = ["site"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


class ReasonedPasswordForm(AdminPasswordChangeForm):
    """Django's admin password form with the reason for the change, kept on the account's history row."""

    change_reason = forms.CharField(
        label=_("Reason for change"), max_length=auditing.REASON_MAX_LENGTH, required=True,
        help_text=_("Required for a change: it is kept in the audit trail with your name and the time."),
        error_messages={"required": _("Give a reason for the change (it is kept in the audit trail).")})

    def save(self, commit=True):
        auditing.mark(self.user, user=_password_actor.get(), reason=self.cleaned_data[REASON_FIELD].strip())
        return super().save(commit=commit)


@admin.register(User)
class OligamiUserAdmin(TrialAdministratorOnly, OnboardingAdminMixin, AuditedAdmin, UserAdmin):
    fieldsets = UserAdmin.fieldsets + ((_("Trial"), {"fields": ("preferred_language",)}),)
    readonly_fields = ("last_login", "date_joined")  # records of the account, not settings
    list_display = ("username", "first_name", "last_name", "email", "is_active", "preferred_language")
    inlines = [MembershipInline]
    change_password_form = ReasonedPasswordForm
    change_user_password_template = "admin/oligami_site/user/change_password.html"  # noqa: S105 (a template)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form  # the add form: an account without roles yet
        return type(form.__name__, (AccountRolesForm, form), {"actor": request.user})

    def user_change_password(self, request, id, form_url=""):
        token = _password_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_actor.reset(token)


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    """Codes and names here; status and approval record through the site page's services (a reason each),
    shown read-only here with their history (the History button)."""

    list_display = ("code", "name_en", "name_ja", "status", "ethics_approval_date", "start_date", "enrolment_cap")
    list_filter = ("status",)
    search_fields = ("code", "name_en", "name_ja")
    readonly_fields = ("status", "ethics_approval_date", "approved_protocol_version", "head_permission_date",
                       "start_date", "enrolment_cap")
    site_field = "pk"
    statisticians_see_all = True


@admin.register(EnrolmentRequest)
class EnrolmentRequestAdmin(ReadOnlyAuditedAdmin):
    """Sites' requests to screen beyond their enrolment cap (issue 17): sent and decided on the site page
    (oligami_site.enrolment), read here with their history."""

    list_display = ("site", "requested_at", "requested_by", "cap", "screened", "status", "granted", "decided_by",
                    "decided_at")
    list_filter = (("site", SiteListFilter), "status")
    search_fields = ("site__code", "requested_by__username", "decision_reason")
    list_select_related = ("site", "requested_by", "decided_by")
    site_field = "site"


class MembershipForm(forms.ModelForm):
    """A membership is granted by another administrator than its holder (the role rule: Membership.clean)."""

    actor = None  # set by MembershipAdmin.get_form

    def clean(self):
        data = super().clean()
        try:
            duties.check_not_self(actor=self.actor, user=data.get("user"))
        except duties.RoleGrantRefused as refused:
            self.add_error("user" if "user" in self.fields else None, _refusal(refused))
        return data


@admin.register(Membership)
class MembershipAdmin(TrialAdministratorOnly, AuditedAdmin):
    form = MembershipForm
    list_display = ("user", "site", "role", "active")
    list_filter = (("site", SiteListFilter), "role", "active")
    search_fields = ("user__username", "site__code")
    autocomplete_fields = ["user", "site"]
    list_select_related = ("user", "site")
    site_field = "site"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})


@admin.register(AccessEvent)
class AccessEventAdmin(BoundedChangelistMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Read-only for everyone: an access record that can be edited proves nothing."""

    list_display = ("at", "kind", "username", "user", "address")
    list_filter = ("kind", "at")
    search_fields = ("username", "address")
    list_select_related = ("user",)  # the user column: one join, not one query per row (issue 21)


# --- groups and two-factor devices (registered by Django and django-otp; replaced here) -------------------


admin.site.unregister(Group)


@admin.register(Group)
class TrialGroupAdmin(TrialAdministratorOnly, GroupAdmin):
    """Groups, for the trial administrator. The trial-wide roles' groups are read-only even for them: their
    names are the roles (oligami_site.access) and their permissions roles.py's table, applied after every
    migrate; a change here would be silent until then, or break the role. Members are granted a group on
    the user's page, with a reason, in its history."""

    def _is_trial_role(self, obj):
        return obj is not None and obj.name in TrialRole.ALL

    def has_change_permission(self, request, obj=None):
        return not self._is_trial_role(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._is_trial_role(obj) and super().has_delete_permission(request, obj)


if admin.site.is_registered(TOTPDevice):  # django-otp registers its admin when its admin module is imported
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(TrialAdministratorOnly, otp_totp_admin.TOTPDeviceAdmin):
    """Two-factor devices: the trial administrator removes a lost one (the user enrols anew at the next login).
    Nobody adds or edits one here: the owner enrols their own authenticator, so that no one else ever held
    its secret (an administrator who set a key could answer the second factor for that person)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
