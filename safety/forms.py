"""Forms of the safety pages: thin, the services validate and decide (safety/services.py)."""

from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oligami_site.auditing import REASON_MAX_LENGTH
from registration.forms import DateInput

from .models import ActionTaken, Causality, Outcome, ReportKind


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _awareness_field(label, help_text):
    return forms.DateTimeField(label=label, widget=DateTimeInput(), help_text=help_text)


class _Form(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class AdverseEventForm(_Form):
    term = forms.CharField(label=_("CTCAE term"), max_length=200,
                           help_text=_("The CTCAE term, e.g. Febrile neutropenia."))
    # No bounds here: the service answers a 5 with the way to record a death (code grade_5), 0 or 6 with
    # the range; a form bound would say neither.
    grade = forms.IntegerField(label=_("Grade"), help_text=_("CTCAE grade 1-4 (Grade 5 is a death)."))
    onset_date = forms.DateField(label=_("Onset date"), widget=DateInput())
    resolution_date = forms.DateField(label=_("Resolution date"), widget=DateInput(), required=False,
                                      help_text=_("Empty while not resolved."))
    hospitalization_24h = forms.BooleanField(
        label=_("Hospitalization of 24 hours or more (or prolonged) for its treatment"), required=False)
    life_threatening = forms.BooleanField(label=_("Life-threatening"), required=False)
    disability = forms.BooleanField(label=_("Persistent or significant disability"), required=False)
    other_serious = forms.BooleanField(label=_("Other medically important event"), required=False)
    causality = forms.ChoiceField(label=_("Causality with protocol treatment"),
                                  choices=[("", "---------"), *Causality.choices])
    action_taken = forms.ChoiceField(label=_("Action taken"), choices=ActionTaken.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices, initial=Outcome.NOT_RECOVERED)
    awareness = _awareness_field(_("Site aware at"), _("When the site learned of the event (Japan time)."))

    def __init__(self, *args, event=None, **kwargs):
        if event is not None:
            kwargs["initial"] = {
                "term": event.term, "grade": event.grade, "onset_date": event.onset_date,
                "resolution_date": event.resolution_date, "hospitalization_24h": event.hospitalization_24h,
                "life_threatening": event.life_threatening, "disability": event.disability,
                "other_serious": event.other_serious, "causality": event.causality,
                "action_taken": event.action_taken, "outcome": event.outcome,
                "change_awareness": timezone.localtime().replace(second=0, microsecond=0)}
        super().__init__(*args, **kwargs)
        if event is not None:
            del self.fields["awareness"]
            self.fields["change_awareness"] = _awareness_field(
                _("Site aware of this change at"),
                _("When the site learned of this change (Japan time): a change that makes the event reportable "
                  "starts the report clock then."))
            self.fields["change_reason"] = forms.CharField(
                label=_("Reason for the change"), max_length=REASON_MAX_LENGTH,
                help_text=_("Kept in the audit trail with your name and the time."))


class DeathAssessmentForm(_Form):
    causality = forms.ChoiceField(label=_("Causality with protocol treatment"),
                                  choices=[("", "---------"), *Causality.choices])
    awareness = _awareness_field(_("Site aware of the death at"),
                                 _("When the site learned of the death (Japan time)."))


class ReportForm(_Form):
    kind = forms.ChoiceField(label=_("Report"), choices=ReportKind.choices)
    narrative = forms.CharField(label=_("Narrative"), widget=forms.Textarea(attrs={"rows": 6}), max_length=4000,
                                help_text=_("What happened, the treatment given, the course so far."))
    password = forms.CharField(label=_("Your password (electronic signature)"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [(k, label) for k, label in ReportKind.choices if k in kinds]


class AcknowledgeForm(_Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
