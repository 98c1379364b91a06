"""The admin console's base for every audited model: site scoping, read-only history, a reason for change.

- Site scoping: staff who reach the admin see only the rows of their sites (``site_field``, through
  oligami_site.access); data managers and superusers see every site.
- History is read-only: simple-history's "history form" view saves the posted form as a revert even when
  SIMPLE_HISTORY_REVERT_DISABLED hides the button, for anyone who may merely *view* the model. Every POST
  to it is refused here (403), and both history views answer 404 for an object outside the user's sites
  (simple-history would otherwise fall back to the latest historical row of any object).
- No clinical or configuration row is ever deleted from the admin.
- A change saved in the admin needs a reason, which goes on the history row (the first entry does not).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import access, auditing
from .access import Action
from .models import Site

REASON_FIELD = "change_reason"


def with_reason(form_class):
    """`form_class` with an optional "reason for change" field that a change (not a first entry) requires."""

    class ReasonForm(form_class):
        change_reason = forms.CharField(
            label=_("Reason for change"), max_length=auditing.REASON_MAX_LENGTH, required=False,
            help_text=_("Required for a change: it is kept in the audit trail with your name and the time."))

        def clean(self):
            data = super().clean()
            if self.instance.pk is not None and not (self.cleaned_data.get(REASON_FIELD) or "").strip():
                self.add_error(REASON_FIELD, _("Give a reason for the change (it is kept in the audit trail)."))
            return data

    ReasonForm.__name__ = form_class.__name__
    ReasonForm.__qualname__ = form_class.__qualname__
    return ReasonForm


def _without(fields, hidden: set[str]) -> list:
    """A fieldset's fields without `hidden` (a tuple of fields on one line keeps its other fields)."""
    out = []
    for name in fields:
        if isinstance(name, list | tuple):
            kept = tuple(f for f in name if f not in hidden)
            if kept:
                out.append(kept)
        elif name not in hidden:
            out.append(name)
    return out


class SiteListFilter(admin.RelatedFieldListFilter):
    """The changelists' site filter: the sites the user may see, read from the site table (a few rows).

    Django's RelatedOnlyFieldListFilter would run SELECT DISTINCT site over every row of the list on every
    page view, which grows with the trial (issue 21); the choices here cost one small query.
    """

    def field_choices(self, field, request, model_admin):
        ids = None if request.user.is_superuser else access.site_ids_for(request.user, Action.VIEW)
        sites = Site.objects.order_by("code") if ids is None else Site.objects.filter(pk__in=ids).order_by("code")
        return [(site.pk, str(site)) for site in sites]


def fixed_values_filter(field_name: str, title, values, *, empty_label=None):
    """A list filter on a field without choices, over the values it can hold (`values`: a list, or a callable
    returning one). Django's filter for such a field (AllValuesFieldListFilter) runs SELECT DISTINCT over every
    row of the list on every page view, which grows with the trial (issue 21). `empty_label`: also offer the
    rows where the field is NULL."""
    empty = "__empty__"

    class FixedValuesFilter(admin.SimpleListFilter):
        parameter_name = field_name

        def lookups(self, request, model_admin):
            choices = [(str(value), str(value)) for value in (values() if callable(values) else values)]
            return choices + ([(empty, empty_label)] if empty_label is not None else [])

        def queryset(self, request, queryset):
            value = self.value()
            if value and value not in {choice for choice, _label in self.lookup_choices}:
                # A value the filter does not offer ("abc" for a grade) would reach the database as it is (a
                # ValueError: a 500); the admin's own answer to a bad lookup instead (back to the list, "?e=1").
                raise IncorrectLookupParameters(value)
            if value == empty and empty_label is not None:
                return queryset.filter(**{f"{field_name}__isnull": True})
            return queryset.filter(**{field_name: value}) if value else queryset

    FixedValuesFilter.title = title
    FixedValuesFilter.__name__ = f"{field_name.title().replace('_', '')}Filter"
    return FixedValuesFilter


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, minus its 500 on a posted value that is no valid key.

    To redisplay an invalid form, AutocompleteSelect looks the posted value up in the database as it is:
    a `user` or `site` of "abc" or "1.5" raised a ValueError while rendering, a 30-digit one an
    OverflowError on SQLite (a 500; issue 13, 24 cases in the outside attack). Values the key field
    cannot convert are left out of that lookup; the form still shows its own "Select a valid choice"
    error beside the field.
    """

    def optgroups(self, name, value, attr=None):
        field = self.field.remote_field.model._meta.get_field(
            getattr(self.field.remote_field, "field_name", None) or self.field.remote_field.model._meta.pk.name)
        valid = []
        for item in value:
            try:
                key = field.to_python(item)
            except (ValidationError, TypeError, ValueError):
                continue
            if isinstance(key, int) and not -(2**63) <= key < 2**63:
                continue  # no key is that large, and SQLite cannot even be asked (OverflowError)
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeAutocompleteMixin:
    """Every autocomplete field of this admin (or inline) with SafeAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class BoundedChangelistMixin:
    """Changelists whose work is bounded by the rows shown, not by the size of the trial (issue 21).

    - No second COUNT(*) over the unfiltered list ("N results (M total)"): the filtered count pays for
      the pagination already.
    - ``list_defer``: columns never shown in a list (a screening's ~14 kB verdict JSON) are left in the
      database on the changelist; the change form still loads them.
    - Newest first by default (``get_ordering``): the page's 100 rows are read from the primary key's
      index, where the models' orders (through patient and site) sorted a whole site's rows.
    Date drill-down (date_hierarchy) is not used on the large lists: it runs SELECT DISTINCT over the
    date of every row; a date list filter (today, 7 days, month, year) costs nothing.
    """

    show_full_result_count = False
    list_defer: tuple[str, ...] = ()

    def get_ordering(self, request):
        """Newest first (by primary key, an index) unless the admin orders otherwise: the models' own orders
        run through their patient and site (site code, sequence, ...), which PostgreSQL can only sort over
        every row of the busiest site before keeping a page (docs/performance.md, "Issue 21, second round").
        A column header still sorts by that column on request."""
        return super().get_ordering(request) or ("-pk",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if self.list_defer and match is not None and (match.url_name or "").endswith("_changelist"):
            queryset = queryset.defer(*self.list_defer)
        return queryset


class AuditedAdmin(SafeAutocompleteMixin, BoundedChangelistMixin, SimpleHistoryAdmin):
    """Base of every audited model's admin (see the module docstring)."""

    site_field: str | None = None  # path from the model to its Site; None: not site data
    statisticians_see_all = False  # e.g. the site list, which the statistician's balance report names anyway
    # Fields shown to the statistician only, in every view (list, change, history and its field diffs): the
    # allocation internals (issue 13; randomization.models.ALLOCATION_INTERNALS, CONFIG_INTERNALS).
    concealed_fields: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.form = with_reason(self.form)

    # --- site scoping -------------------------------------------------------------------------------

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def scope(self, request, queryset):
        user = request.user
        if self.site_field is None or user.is_superuser:
            return queryset
        if self.statisticians_see_all and access.is_statistician(user):
            return queryset
        return access.scope(queryset, user, Action.VIEW, site_field=self.site_field)

    def _require_in_scope(self, request, object_id):
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    # --- concealed fields --------------------------------------------------------------------------------

    def hidden_fields(self, request) -> set[str]:
        """The concealed fields this user may not see (all of them but for the statistician)."""
        if not self.concealed_fields or access.sees_allocation_internals(request.user):
            return set()
        return set(self.concealed_fields)

    def get_list_display(self, request):
        hidden = self.hidden_fields(request)
        return [f for f in super().get_list_display(request) if f not in hidden]

    def get_list_filter(self, request):
        hidden = self.hidden_fields(request)
        return [f for f in super().get_list_filter(request) if (f[0] if isinstance(f, tuple) else f) not in hidden]

    def get_search_fields(self, request):
        hidden = self.hidden_fields(request)
        return [f for f in super().get_search_fields(request) if f.split("__")[0].lstrip("^=@") not in hidden]

    def get_readonly_fields(self, request, obj=None):
        hidden = self.hidden_fields(request)
        return [f for f in super().get_readonly_fields(request, obj) if f not in hidden]

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """simple-history's "changes" column of the history list, without the concealed fields' values."""
        hidden = self.hidden_fields(request)
        if not hidden:
            return super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(current, excluded_fields=sorted(hidden),
                                              foreign_keys_are_objs=foreign_keys_are_objs)
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    # --- history: read only ---------------------------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        if not request.user.is_superuser and not access.is_data_manager(request.user):
            # Deleted rows (e.g. a removed lesion) keep their history for the data centre only.
            self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied  # a POST here would save the old version (a revert)
        if not request.user.is_superuser and not access.is_data_manager(request.user):
            self._require_in_scope(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    def has_delete_permission(self, request, obj=None):
        return False

    # --- reason for change ------------------------------------------------------------------------------

    def get_fields(self, request, obj=None):
        hidden = self.hidden_fields(request)
        return [f for f in super().get_fields(request, obj) if f != REASON_FIELD and f not in hidden]

    def get_fieldsets(self, request, obj=None):
        return self.with_reason_fieldset(request, obj, super().get_fieldsets(request, obj))

    def with_reason_fieldset(self, request, obj, fieldsets):
        """`fieldsets` without the fields hidden from the user and, on the change form of a user who may
        change, the reason for change."""
        hidden = self.hidden_fields(request)
        if hidden:
            fieldsets = [(name, {**options, "fields": _without(options["fields"], hidden)})
                         for name, options in fieldsets]
        if (obj is not None and self.has_change_permission(request, obj)
                and REASON_FIELD not in flatten_fieldsets(fieldsets)):
            fieldsets = [*fieldsets, (_("Audit trail"), {"fields": [REASON_FIELD]})]
        return fieldsets

    def change_reason(self, form, change: bool, default: str) -> str:
        """The reason entered on the form (required for a change), else `default` (first entry)."""
        reason = (form.cleaned_data.get(REASON_FIELD) or "").strip() if form is not None else ""
        return reason or default

    def save_model(self, request, obj, form, change):
        auditing.mark(obj, user=request.user, reason=self.change_reason(
            form, change, "Changed in the admin" if change else "Created in the admin"))
        super().save_model(request, obj, form, change)


class ReadOnlyMixin:
    """Rows written by the application only (services, signals): nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAuditedAdmin(ReadOnlyMixin, AuditedAdmin):
    """Clinical records written by the services only (with signature, engine verdict and audit): read here."""
