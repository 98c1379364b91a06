from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from .account_admin import OnboardingAdminMixin
from .audited_admin import AuditedAdmin, BoundedChangelistMixin, ReadOnlyMixin, SiteListFilter
from .models import AccessEvent, Membership, Site, User

admin.site.site_header = _("OLIGAMI data centre")
admin.site.site_title = _("OLIGAMI")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False  # deactivate instead: who worked where stays on record
    autocomplete_fields = ["site"]


@admin.register(User)
class OligamiUserAdmin(OnboardingAdminMixin, UserAdmin):
    fieldsets = UserAdmin.fieldsets + ((_("Trial"), {"fields": ("preferred_language",)}),)
    list_display = ("username", "first_name", "last_name", "email", "is_active", "preferred_language")
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None):
        return False  # users who touched trial data must stay resolvable in the audit trail


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    """Codes and names here; status and approval record through the site page's services (a reason each),
    shown read-only here with their history (the History button)."""

    list_display = ("code", "name_en", "name_ja", "status", "ethics_approval_date", "start_date")
    list_filter = ("status",)
    search_fields = ("code", "name_en", "name_ja")
    readonly_fields = ("status", "ethics_approval_date", "approved_protocol_version", "head_permission_date",
                       "start_date")
    site_field = "pk"
    statisticians_see_all = True


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ("user", "site", "role", "active")
    list_filter = (("site", SiteListFilter), "role", "active")
    search_fields = ("user__username", "site__code")
    autocomplete_fields = ["user", "site"]
    list_select_related = ("user", "site")
    site_field = "site"


@admin.register(AccessEvent)
class AccessEventAdmin(BoundedChangelistMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Read-only for everyone: an access record that can be edited proves nothing."""

    list_display = ("at", "kind", "username", "user", "address")
    list_filter = ("kind", "at")
    search_fields = ("username", "address")
    list_select_related = ("user",)  # the user column: one join, not one query per row (issue 21)
