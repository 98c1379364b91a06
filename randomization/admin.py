"""Admin of the randomization set-up (statistician), the allocation log and refused changes (read-only).

BlockListEntry is deliberately NOT registered: no admin list or page may show a slot of the concealed
list. The configuration shows the list's SHA-256 and size only; the seed is never a field. AllocationTally
(the minimization's running counts) is not registered either.

Concealment (issue 13): the allocation internals (models.ALLOCATION_INTERNALS) and the set-up's parameters
(models.CONFIG_INTERNALS) are shown to the statistician only, in every list, change and history view and in
the history's field diffs (AuditedAdmin.concealed_fields); only the statistician sets up the randomization.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from oligami_site import access
from oligami_site.audited_admin import AuditedAdmin, ReadOnlyAuditedAdmin, SiteListFilter

from . import services
from .exceptions import ConfigFrozen, ConfigInvalid
from .factors import FACTOR_CHOICES
from .models import ALLOCATION_INTERNALS, CONFIG_INTERNALS, Allocation, ConfigChangeAttempt, RandomizationConfig


class RandomizationConfigForm(forms.ModelForm):
    factors = forms.MultipleChoiceField(label=_("factors"), choices=FACTOR_CHOICES,
                                        widget=forms.CheckboxSelectMultiple)
    block_sizes = forms.CharField(label=_("block sizes"), help_text=_("Even sizes separated by commas, e.g. 4,6."))

    class Meta:
        model = RandomizationConfig
        fields = services.CONFIG_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sizes = self.initial.get("block_sizes")
        if isinstance(sizes, (list, tuple)):
            self.initial["block_sizes"] = ",".join(str(s) for s in sizes)
        if "weights" in self.fields:  # absent when frozen (every field read-only)
            self.fields["weights"].required = False  # blocks need none; minimization defaults a missing one to 1
        self.warnings = []

    def clean_block_sizes(self):
        raw = self.cleaned_data["block_sizes"]
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError(_("Block sizes must be whole numbers separated by commas, e.g. 4,6."))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            clean, self.warnings = services.validate_config(**{k: data.get(k) for k in services.CONFIG_FIELDS})
        except ConfigInvalid as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return data
        data.update(clean)
        return data


@admin.register(RandomizationConfig)
class RandomizationConfigAdmin(AuditedAdmin):
    form = RandomizationConfigForm
    list_display = ("__str__", "method", "factors", "p", "block_sizes", "block_list_size", "block_list_sha256",
                    "frozen_at", "active")
    list_filter = ("active",)
    actions = ["generate_block_list"]
    info_fields = ("active", "block_list_sha256", "block_list_size", "block_list_generated_at",
                   "block_list_generated_by", "frozen_at", "created_at")
    readonly_fields = info_fields
    concealed_fields = CONFIG_INTERNALS

    def get_fieldsets(self, request, obj=None):
        return self.with_reason_fieldset(request, obj, [
            (None, {"fields": services.CONFIG_FIELDS}),
            (_("Allocation list and status"), {
                "fields": self.info_fields,
                "description": _("The list itself is never shown; its SHA-256 lets an auditor verify it later."),
            }),
        ])

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return services.CONFIG_FIELDS + self.info_fields
        return self.info_fields

    def has_add_permission(self, request):
        # Singleton-ish: one active set-up, changed in place; a new one only when none is active. The
        # statistician's alone (a trial administrator who is not the statistician sees no parameters).
        return (super().has_add_permission(request) and access.is_statistician(request.user)
                and not RandomizationConfig.objects.filter(active=True).exists())

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and access.is_statistician(request.user)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A frozen set-up is refused before the admin's own transaction starts, so that the record of the
        # attempt commits although the change does not.
        if request.method == "POST":
            config = self.get_object(request, unquote(object_id)) if object_id else None
            allowed = self.has_change_permission(request, config) if object_id else self.has_add_permission(request)
            if allowed and ((config is not None and config.is_frozen) or services.has_allocations()):
                return self._refuse(request, config, "change" if object_id else "create")
        if object_id and request.method == "GET":
            config = self.get_object(request, unquote(object_id))
            if config is not None and config.is_frozen:
                messages.info(request, _("Frozen since the first allocation: this set-up can no longer change."))
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ConfigFrozen:  # frozen between the check above and the save: the admin's transaction rolled back
            return self._refuse(request, self.get_object(request, unquote(object_id)) if object_id else None,
                                "change" if object_id else "create")

    def _refuse(self, request, config, action):
        attempted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        services.refuse_frozen_change(config=config, user=request.user, action=action, attempted=attempted)
        messages.error(request, services.frozen_message())
        if config is not None:
            return HttpResponseRedirect(reverse("admin:randomization_randomizationconfig_change", args=[config.pk]))
        return HttpResponseRedirect(reverse("admin:randomization_randomizationconfig_changelist"))

    def save_model(self, request, obj, form, change):
        values = {k: form.cleaned_data[k] for k in services.CONFIG_FIELDS}
        if change:
            _config, warnings, discarded = services.update_config(
                config=obj, user=request.user, reason=self.change_reason(form, change, "Changed in the admin"),
                **values)
            if discarded:
                messages.warning(request, _("The allocation list no longer fits the changed set-up and was discarded; "
                                            "generate it again before go-live."))
        else:
            config, warnings = services.create_config(
                user=request.user, reason=self.change_reason(form, change, "Created in the admin"), **values)
            obj.pk = config.pk
            obj._state.adding = False
        for warning in warnings:
            messages.warning(request, warning)

    @admin.action(description=_("Generate the allocation list (permuted blocks)"), permissions=["change"])
    def generate_block_list(self, request, queryset):
        for config in queryset:
            try:
                config = services.generate_block_list(config=config, user=request.user)
            except (ConfigFrozen, ConfigInvalid) as exc:
                messages.error(request, exc.message)
                continue
            messages.success(request, _("Allocation list generated: %(size)s slots, SHA-256 %(sha)s. Record the "
                                        "SHA-256 in the trial master file.")
                             % {"size": config.block_list_size, "sha": config.block_list_sha256})


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAuditedAdmin):  # the log is written by the services only
    list_display = ("sequence", "patient", "site", "arm", "method", "allocated_at", "signed_name")
    list_filter = (("patient__site", SiteListFilter), "arm", "method", "patient__primary_registration__subtype",
                   ("allocated_at", admin.DateFieldListFilter))
    list_select_related = ("patient__site",)
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    actions = None
    site_field = "patient__site"  # site staff who reach the admin see their sites' allocations only
    statisticians_see_all = True  # the whole log, without the patients' numbers (get_fields below)
    concealed_fields = ALLOCATION_INTERNALS

    def hidden_fields(self, request):
        # The statistician sees no patient data (oligami_site.access): the log names no patient to her.
        return super().hidden_fields(request) | ({"patient"} if access.is_statistician(request.user) else set())

    @admin.display(description=_("site"), ordering="patient__site__code")
    def site(self, obj):
        return obj.patient.site.code


@admin.register(ConfigChangeAttempt)
class ConfigChangeAttemptAdmin(ReadOnlyAuditedAdmin):
    list_display = ("attempted_at", "user", "action", "config", "refusal")
    list_select_related = ("user", "config")
    actions = None
    concealed_fields = ("attempted",)  # the posted set-up: its p, weights and block sizes (issue 13)
