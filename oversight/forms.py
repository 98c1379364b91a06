"""Forms of the oversight pages that are not a single app's (the trial-wide audit search)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from oligami_site.widgets import IsoDateInput


class DateInput(IsoDateInput):
    def __init__(self, attrs=None):
        super().__init__(attrs={"class": "form-control form-control-sm", **(attrs or {})})


class AuditSearchForm(forms.Form):
    user = forms.CharField(label=_("User (username or name)"), max_length=150, required=False,
                           widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput)
    record = forms.ChoiceField(label=_("Records"), required=False,
                               widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    patient = forms.CharField(label=_("Patient (screening or registration number)"), max_length=40,
                              required=False, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))

    def __init__(self, *args, record_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record"].choices = [("", _("All records")), *record_choices]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data
