"""Screening forms: the patient, the screening facts in the protocol's order, lesions, lab panel.

Forms only type and check what was entered (types, plausible ranges, no future dates); eligibility is
the engine's job (screening/eligibility.py) and writes are the services' (screening/services.py).
Every yes/no fact is a three-way choice (yes / no / not recorded), because "not recorded" makes a
criterion missing while "no" can meet or fail it. The interpretations that ELIGIBILITY.md marks, and
the engine's criterion help, are shown as help text next to the fields they affect.
"""

from __future__ import annotations

import re

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.forms.formsets import INITIAL_FORM_COUNT, TOTAL_FORM_COUNT
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, auditing
from oligami_site import sites as site_services
from oligami_site.access import Action
from oligami_site.site_status import SiteAction
from oligami_site.widgets import IsoDateInput

from . import eligibility as rules
from .models import LabPanel, Lesion, Patient, Screening
from .services import BONE_FIELDS, EARLIEST_DATE, LAB_FIELDS, LESION_FIELDS, RANGES

# --------------------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------------------

YES, NO = "True", "False"
TRI_STATE_CHOICES = [(YES, _("yes")), (NO, _("no")), ("", _("not recorded"))]


def _to_bool(value: str) -> bool:
    return value == YES


class TriStateField(forms.TypedChoiceField):
    """A nullable boolean as a three-way choice: yes / no / not recorded (None)."""

    def __init__(self, *, widget=None, **kwargs):
        kwargs.pop("coerce", None)
        kwargs.pop("empty_value", None)
        kwargs.pop("choices", None)
        kwargs["required"] = False
        super().__init__(choices=TRI_STATE_CHOICES, coerce=_to_bool, empty_value=None,
                         widget=widget or forms.RadioSelect, **kwargs)

    def prepare_value(self, value):
        # The model gives True / False / None; the widget compares with the strings of the choices.
        return "" if value is None else str(value)


def past_or_today(value):
    """Every screening fact happened on or before the day it is recorded (no date in the future)."""
    if value is None:
        return
    today = timezone.localdate()
    if value > today:
        raise ValidationError(_("A date in the future is not allowed (today is %(today)s)."), code="future_date",
                              params={"today": today.isoformat()})
    if value < EARLIEST_DATE:
        raise ValidationError(_("A date before %(year)s is not plausible."), code="implausible_date",
                              params={"year": EARLIEST_DATE.year})


DateInput = IsoDateInput  # yyyy-mm-dd whatever the browser's locale (oligami_site.widgets)


def _range_validators(name):
    if name not in RANGES:
        return []
    low, high = RANGES[name]
    return [
        MinValueValidator(low, message=_("Enter a value of at least %(limit_value)s.")),
        MaxValueValidator(high, message=_("Enter a value of at most %(limit_value)s (is this a typing error?)")),
    ]


def formfield(model_field: models.Field, **kwargs):
    """Form fields for the screening models: three-way yes/no, date pickers without the future,
    "not recorded" as the empty choice, plausible ranges on numbers."""
    if isinstance(model_field, models.BooleanField) and model_field.null:
        return TriStateField(label=model_field.verbose_name, **kwargs)
    if isinstance(model_field, models.DateField):
        field = model_field.formfield(widget=DateInput, **kwargs)
        field.validators.append(past_or_today)
        return field
    if model_field.choices and model_field.null:
        field = model_field.formfield(**kwargs)
        field.choices = [("", _("not recorded"))] + [c for c in field.choices if c[0] not in ("", None)]
        return field
    field = model_field.formfield(**kwargs)
    if field is not None:
        field.validators.extend(_range_validators(model_field.name))
        if isinstance(field, forms.DecimalField):
            # An absurd number of digits is refused by the model's max_digits with a message.
            low, high = RANGES.get(model_field.name, (None, None))
            if low is not None:
                field.widget.attrs.update({"min": str(low), "max": str(high)})
    return field


# --------------------------------------------------------------------------------------------------
# Help texts from the engine (translated when the form is built, i.e. in the user's language)
# --------------------------------------------------------------------------------------------------

I = rules.INTERPRETATIONS  # noqa: E741 (short name, read-only table)


_HELP_ON_FIELDS: set[str] = set()  # criteria whose help text is shown next to a field


def _criterion_help(cid):
    info = rules.CRITERIA[cid]
    _HELP_ON_FIELDS.add(cid)
    return f"{cid}: {info.help_text}" if info.help_text else None


# Field -> engine texts shown as its help (in this order, after the model's own help text).
FIELD_HELP: dict[str, list[str]] = {
    "screening_date": [_criterion_help("P9")],
    "metastasis_biopsied": [_criterion_help("P1")],
    "her2": [_criterion_help("P2")],
    "presentation_history": [_criterion_help("P3"), I["presentation"]],
    "ct_date": [_criterion_help("P4"), I["staging"]],
    "prior_metastasis_treatment": [_criterion_help("P12")],
    "initial_surgery_date": [_criterion_help("P14"), I["initial_treatment_end_date"]],
    "recurrence_date": [I["recurrence_date"]],
    "other_cancer_therapy_within_5_years": [I["other_cancer_therapy_within_5_years"]],
    "lvef_percent": [_criterion_help("P17"), I["lvef_percent"]],
    "e1": [I["exclusions.E1"]],
    "e2": [I["exclusions.E2"]],
    "e3": [I["exclusions.E3"]],
    "e4": [I["exclusions.E4"]],
    "e10": [I["exclusions.E10"]],
    "e11": [_criterion_help("E11")],
}
LESION_HELP: dict[str, list[str]] = {
    "bilsky_grade": [_criterion_help("P8")],
    "femoral_head_neck_trochanter": [I["lesions.bone.femoral_head_neck_trochanter"]],
    "uncontrolled_pain": [I["lesions.bone.uncontrolled_pain"]],
}
LAB_HELP: dict[str, list[str]] = {"date": [_criterion_help("P16")]}


def help_html(*texts) -> str:
    """Escaped help paragraphs (crispy renders help text as HTML; the engine's texts contain "<1>")."""
    texts = [str(t) for t in texts if t]
    if len(texts) == 1:
        return escape(texts[0])
    return format_html_join("", "<span class=\"d-block\">{}</span>", ((t,) for t in texts))


def _translated_help(text: str) -> str:
    """An engine text in the user's language; "P9: <help text>" keeps its ID and translates the rest (the msgid)."""
    cid, sep, rest = text.partition(": ")
    if sep and cid in rules.CRITERIA:
        return f"{cid}: {gettext(rest)}"
    return gettext(text)


def _apply_help(form, table):
    today = timezone.localdate().isoformat()  # per form, not at import: the server outlives a day
    for field in form.fields.values():
        if isinstance(field.widget, DateInput):
            field.widget.attrs["max"] = today
    for name, texts in table.items():
        if name in form.fields:
            own = form.fields[name].help_text
            form.fields[name].help_text = help_html(own, *(_translated_help(t) for t in texts if t))
    for name, field in form.fields.items():
        if name not in table and field.help_text:
            field.help_text = escape(str(field.help_text))


def _legend(title, ids) -> str:
    return format_html("{} <small class=\"text-body-secondary\">({})</small>", title, ", ".join(ids))


def criteria_titles(*ids) -> str:
    """The criteria a section's facts decide, listed under its legend (with their help when no field
    shows it, e.g. P11)."""
    def item(cid):
        info = rules.CRITERIA[cid]
        extra = f" ({gettext(info.help_text)})" if info.help_text and cid not in _HELP_ON_FIELDS else ""
        return cid, info.text(gettext) + extra

    return format_html_join("", "<li><strong>{}</strong> {}</li>", (item(cid) for cid in ids))


# --------------------------------------------------------------------------------------------------
# Patient
# --------------------------------------------------------------------------------------------------


class PatientForm(forms.ModelForm):
    site = forms.ModelChoiceField(queryset=None, label=_("Site"), empty_label=None)

    class Meta:
        model = Patient
        fields = ["sex", "birth_date", "initials"]
        formfield_callback = formfield
        widgets = {"sex": forms.RadioSelect}

    def __init__(self, *args, user, capped: dict[int, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        sites = access.sites_for(user, Action.EDIT)
        self.fields["site"].queryset = sites
        # {site id: the refusal naming its cap} of the sites at their enrolment cap (issue 17).
        self.capped = capped or {}
        # A site that does not screen (site_status), or is at its enrolment cap, says so; choosing it is
        # refused by clean_site.
        self.fields["site"].label_from_instance = self._site_label
        # Two radio buttons and none chosen: no blank "---------" radio pre-selected (issue 20); leaving both
        # unticked is refused as "This field is required".
        self.fields["sex"].choices = [choice for choice in self.fields["sex"].choices if choice[0]]
        _apply_help(self, {})
        self.fields["birth_date"].help_text = help_html(gettext("P9 (age 18 to 80) is judged on the screening date."))
        self.fields["initials"].validators.append(validate_initials)
        self.helper = FormHelper()
        self.helper.form_tag = False
        names = ["site", InlineRadios("sex"), "birth_date", "initials"]
        if len(sites) == 1:
            self.fields["site"].initial = sites[0]
        self.helper.layout = Layout(*names)
        self.order_fields(["site", "sex", "birth_date", "initials"])

    def _site_label(self, site) -> str:
        if not site.allows(SiteAction.SCREENING):
            return f"{site} ({site.get_status_display()})"
        if site.pk in self.capped:
            return f"{site} ({gettext('enrolment cap reached')})"
        return str(site)

    def clean_site(self):
        site = self.cleaned_data["site"]
        if not site.allows(SiteAction.SCREENING):
            raise ValidationError(site_services.refusal_message(site, SiteAction.SCREENING), code="site_status")
        if site.pk in self.capped:
            raise ValidationError(self.capped[site.pk], code="cap_reached")
        return site


def validate_initials(value):
    from .services import INITIALS

    if not INITIALS.fullmatch((value or "").strip().upper()):
        raise ValidationError(_("Up to 4 letters (dots allowed); never names or hospital IDs."), code="invalid")


# --------------------------------------------------------------------------------------------------
# Screening facts
# --------------------------------------------------------------------------------------------------

# The protocol's order (ELIGIBILITY.md): patient & consent, histology, presentation, staging, lesions,
# labs, the other criteria, the exclusions. Lesions and labs are their own forms, placed by name.
SECTIONS = [
    ("patient", _("Patient and consent"), ("P9", "P18"), ["screening_date", "consent_date", "consent_version"]),
    ("histology", _("Histology and receptors"), ("P1", "P2"),
     ["invasive_carcinoma", "metastasis_biopsied", "er", "pgr", "her2"]),
    ("presentation", _("Presentation"), ("P3",),
     ["presentation_history", "breast_tumour", "bilateral", "side", "invasive_proven_by_metastasis_biopsy",
      "diagnosed_as_recurrence"]),
    ("staging", _("Staging"), ("P4",), ["ct_date", "pet_date", "brain_mri_date"]),
    ("lesions", _("Oligometastases"), ("P5", "P7", "P8"), None),
    ("labs", _("Laboratory values"), ("P16",), None),
    ("other", _("Other criteria"), ("P6", "P10", "P11", "P12", "P13", "P14", "P15", "P17"),
     ["other_distant_metastasis", "ecog", "prior_metastasis_treatment",
      "radical_primary_surgery_since_metastasis_diagnosis", "initial_surgery_date", "initial_surgery_not_given",
      "perioperative_chemotherapy_end_date", "perioperative_chemotherapy_not_given", "targeted_therapy_end_date",
      "targeted_therapy_not_given", "recurrence_date",
      "other_cancer_therapy_within_5_years", "lvef_percent"]),
    ("exclusions", _("Exclusion criteria"), rules.EXCLUSION_IDS, [f"e{i}" for i in range(1, 14)]),
]
SCREENING_FIELDS = [name for *_head, names in SECTIONS if names for name in names]


def consent_version_label(document) -> str:
    """A version with the days it is (was) in force, e.g. "2.0 (from 2026-04-01)"."""
    if document.superseded_date:
        return gettext("%(version)s (%(effective)s to %(superseded)s, superseded)") % {
            "version": document.version, "effective": document.effective_date.isoformat(),
            "superseded": document.superseded_date.isoformat()}
    return gettext("%(version)s (from %(effective)s)") % {"version": document.version,
                                                          "effective": document.effective_date.isoformat()}


class ScreeningForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the change"), required=False, max_length=auditing.REASON_MAX_LENGTH,
        help_text=_("Required to change a value already recorded or a screening already evaluated (audit trail)."),
    )

    class Meta:
        model = Screening
        fields = SCREENING_FIELDS
        formfield_callback = formfield

    def __init__(self, *args, patient: Patient, editing: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.fields["screening_date"].required = True
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("screening_date", timezone.localdate())
        # P18 (issue 17): the version the patient signed, chosen by the site (never filled in for them).
        version = self.fields["consent_version"]
        version.empty_label = _("not recorded")
        version.label_from_instance = consent_version_label
        ecog = self.fields["ecog"]
        ecog.choices = [c for c in ecog.choices if c[0] != ""] + [("", _("not recorded"))]
        ecog.widget = forms.RadioSelect(choices=ecog.choices)
        _apply_help(self, FIELD_HELP)
        if not editing:
            del self.fields["reason"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(*[self._fieldset(*section) for section in SECTIONS])
        if editing:
            self.helper.layout.append(Fieldset(_("Audit trail"), "reason"))

    def clean(self):
        data = super().clean()
        for date_field, flag in Screening.INITIAL_TREATMENT_PARTS:
            # P14: each part of the initial treatment is a date or "not given", never both.
            if data.get(date_field) and data.get(flag):
                self.add_error(date_field, ValidationError(
                    _("Record a date or \"not given\", not both."), code="p14_both"))
        return data

    def _fieldset(self, key, title, ids, names):
        head = HTML(format_html("<ul class=\"list-unstyled small text-body-secondary mb-2\">{}</ul>",
                                criteria_titles(*ids)))
        if names is None:
            return Fieldset(_legend(title, ids), head, HTML(f'{{% include "screening/_{key}_section.html" %}}'),
                            css_id=f"section-{key}", css_class="mb-4")
        items = []
        for name in names:
            widget = self.fields[name].widget
            kind = InlineRadios if isinstance(widget, forms.RadioSelect) else Field
            items.append(kind(name, wrapper_class="col-md-6 col-xl-4"))
        return Fieldset(_legend(title, ids), head, Div(*items, css_class="row"), css_id=f"section-{key}",
                        css_class="mb-4")


# --------------------------------------------------------------------------------------------------
# Lesions (a formset: more than three rows may be entered, so a fourth lesion fails P5)
# --------------------------------------------------------------------------------------------------

_ROW_KEY = re.compile(r"(?P<prefix>[a-z]+)-(?P<row>\d{1,6})-")
MIN_LESION_ROWS = 4  # rows shown at least: one more than P5 allows, so a fourth lesion can be entered
MAX_LESIONS = 20


class LesionForm(forms.ModelForm):
    lesion_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Lesion
        fields = LESION_FIELDS
        formfield_callback = formfield

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, TriStateField):
                field.widget = forms.Select(choices=field.choices)
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else "form-control " \
                "form-control-sm"
            field.widget.attrs.setdefault("class", css)
        self.fields["organ"].choices = [("", "—")] + [c for c in self.fields["organ"].choices if c[0]]
        for name in BONE_FIELDS:  # P8 findings: lesions.js disables them for a lesion of another organ
            self.fields[name].widget.attrs["data-bone-only"] = "1"
        _apply_help(self, LESION_HELP)

    def clean(self):
        data = super().clean()
        if data.get("organ") and data.get("organ") != "bone":
            recorded = [self.fields[name].label for name in BONE_FIELDS if data.get(name) is not None]
            if recorded:
                raise ValidationError(
                    _("Bone findings apply to bone lesions only: clear %(fields)s or choose the organ bone."),
                    code="bone_findings", params={"fields": ", ".join(str(r) for r in recorded)})
        return data

    def row_errors(self):
        """Errors of the row as a whole, including its hidden lesion id (shown above the row)."""
        return [*self.non_field_errors(), *(e for f in self.hidden_fields() for e in f.errors)]

    def lesion_data(self):
        data = {name: self.cleaned_data.get(name) for name in LESION_FIELDS}
        data["id"] = self.cleaned_data.get("lesion_id")
        return data


class BaseLesionFormSet(forms.BaseFormSet):
    def clean(self):
        # A management form that disagrees with the rows sent (negative counts, rows beyond the total)
        # would silently drop lesions: refuse it rather than save fewer lesions than were entered.
        if not self.management_form.is_valid():
            return  # Django has said so already ("ManagementForm data is missing or has been tampered with")
        counts = self.management_form.cleaned_data
        total, initial = counts[TOTAL_FORM_COUNT], counts[INITIAL_FORM_COUNT]
        matches = (_ROW_KEY.match(key) for key in self.data)
        rows = {int(m.group("row")) for m in matches if m and m.group("prefix") == self.prefix}
        if total < 0 or initial < 0 or initial > total or (rows and max(rows) >= total):
            raise ValidationError(_("The lesion rows were sent incompletely (form data tampered with or cut off). "
                                    "Reload the page and enter them again."), code="tampered")
        if any(self.errors):
            return
        ids = [f.cleaned_data.get("lesion_id") for f in self.forms if f.cleaned_data.get("lesion_id")]
        if len(ids) != len(set(ids)):
            raise ValidationError(_("A lesion appears twice."), code="duplicate")

    def lesions(self):
        """The lesions entered, in order: rows left empty and rows marked for removal are skipped."""
        return [f.lesion_data() for f in self.forms
                if f.has_changed() and f.cleaned_data and not self._should_delete_form(f)]


def lesion_formset(*, data=None, lesions=()):
    """The lesion formset with the existing lesions and empty rows up to at least MIN_LESION_ROWS."""
    initial = [{"lesion_id": lesion.pk, **{name: getattr(lesion, name) for name in LESION_FIELDS}}
               for lesion in lesions]
    formset_class = forms.formset_factory(
        LesionForm, formset=BaseLesionFormSet, extra=max(MIN_LESION_ROWS - len(initial), 1), can_delete=True,
        max_num=MAX_LESIONS, validate_max=True, absolute_max=MAX_LESIONS + 5)
    return formset_class(data=data, initial=initial, prefix="lesions")


# --------------------------------------------------------------------------------------------------
# Lab panel
# --------------------------------------------------------------------------------------------------


class LabPanelForm(forms.ModelForm):
    class Meta:
        model = LabPanel
        fields = LAB_FIELDS
        formfield_callback = formfield

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="labs", **kwargs)
        _apply_help(self, LAB_HELP)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(Div(*[Field(name, wrapper_class="col-sm-6 col-md-3") for name in LAB_FIELDS],
                                        css_class="row"))

    def lab_data(self):
        return {name: self.cleaned_data.get(name) for name in LAB_FIELDS}


class RescreenForm(forms.Form):
    reason = forms.CharField(label=_("Reason for re-screening"), required=False, max_length=auditing.REASON_MAX_LENGTH)


class PatientCorrectionForm(forms.Form):
    """Sex or date of birth entered wrong (issue 15): the corrected values and the reason, both required."""

    sex = forms.ChoiceField(label=_("Sex"), choices=Patient.Sex.choices, widget=forms.RadioSelect)
    birth_date = forms.DateField(label=_("Date of birth"), widget=DateInput())
    reason = forms.CharField(label=_("Reason for the correction"), max_length=auditing.REASON_MAX_LENGTH)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(InlineRadios("sex"), "birth_date", "reason")
