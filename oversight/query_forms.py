"""Forms of the data-query pages: input only; the rules are in querystate.py and queries.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import records
from .queries import TEXT_MAX_LENGTH


class OpenQueryForm(forms.Form):
    record = forms.ChoiceField(label=_("Record"), required=False,
                               help_text=_("Leave blank to question the patient's data as a whole."))
    field = forms.ChoiceField(label=_("Field"), required=False)
    text = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 4}),
                           max_length=TEXT_MAX_LENGTH)

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record"].choices = [("", "–")] + [
            (f"{key}:{pk}", label) for key, pk, label in records.records_of(patient)]
        # Grouped by kind of record; the service checks that the field belongs to the chosen record.
        self.fields["field"].choices = [("", "–")] + [
            (str(kind.label), [(f"{kind.key}:{name}", label) for name, label in records.queryable_fields(kind)])
            for kind in records.RECORD_TYPES]

    def target(self) -> dict:
        record = self.cleaned_data.get("record") or ""
        field = self.cleaned_data.get("field") or ""
        record_type, _sep, record_id = record.partition(":")
        field_type, _sep, field_name = field.partition(":")
        if field and not record:
            record_type, record_id = field_type, None
            if field_type != "patient":
                # A field without its record: only the patient's own fields can be meant unambiguously.
                self.add_error("record", _("Choose the record the field belongs to."))
        elif field and field_type != record_type:
            self.add_error("field", _("The field is not one of the chosen record's."))
        return {"record_type": record_type, "record_id": record_id or None, "field": field_name}


class StepForm(forms.Form):
    text = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), max_length=TEXT_MAX_LENGTH)


class QueryFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)
    site = forms.TypedChoiceField(label=_("Site"), required=False, coerce=int, empty_value=None)
    waiting_for_me = forms.BooleanField(label=_("Waiting for me"), required=False)

    def __init__(self, *args, sites, **kwargs):
        from .models import DataQuery

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("all")), ("unclosed", _("not closed"))] + list(
            DataQuery.Status.choices)
        self.fields["site"].choices = [("", _("all"))] + [(s.pk, s.code) for s in sites]
