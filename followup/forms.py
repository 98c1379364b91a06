"""Forms of the follow-up pages: thin, the services validate and decide (followup/services.py)."""

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from registration.forms import DateInput

from .models import PROGRESSION_SITE_CHOICES, Death, Modality, Withdrawal
from .services import REASON_MAX_LENGTH

YES_NO = [("", "---------"), ("yes", _("Yes")), ("no", _("No"))]


def _yes_no(label, required=True, help_text=""):
    # A required choice, never a checkbox: an unticked box would silently record "no".
    return forms.TypedChoiceField(label=label, choices=YES_NO, coerce=lambda value: value == "yes",
                                  empty_value=None, required=required, help_text=help_text)


def _yes_no_initial(value):
    return None if value is None else ("yes" if value else "no")


class _Form(forms.Form):
    def __init__(self, *args, require_reason=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        if require_reason:
            self.fields["change_reason"] = forms.CharField(
                label=_("Reason for the change"), max_length=REASON_MAX_LENGTH,
                help_text=_("Kept in the audit trail with your name and the time."))


class CourseForm(_Form):
    plan = forms.ModelChoiceField(label=_("Regimen (therapy plan)"), queryset=None, empty_label=None)
    start_date = forms.DateField(label=_("Start date"), widget=DateInput())
    end_date = forms.DateField(label=_("End date"), widget=DateInput(), required=False,
                               help_text=_("Empty while the course is ongoing."))
    dose_modified = _yes_no(_("Dose modified"))
    stopped_early = _yes_no(_("Stopped early"))
    stopped_early_reason = forms.CharField(label=_("Reason stopped early"), required=False,
                                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, plans=(), course=None, **kwargs):
        if course is not None:
            kwargs["initial"] = {"plan": course.plan_id, "start_date": course.start_date, "end_date": course.end_date,
                                 "dose_modified": _yes_no_initial(course.dose_modified),
                                 "stopped_early": _yes_no_initial(course.stopped_early),
                                 "stopped_early_reason": course.stopped_early_reason}
        super().__init__(*args, require_reason=course is not None, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["plan"].label_from_instance = lambda plan: f"{plan.regimen_text} (v{plan.version})"


class MdtForm(_Form):
    lesion = forms.ModelChoiceField(label=_("Lesion"), queryset=None)
    modality = forms.ChoiceField(label=_("Modality"), choices=[("", "---------"), *Modality.choices])
    start_date = forms.DateField(label=_("Start date"), widget=DateInput())
    end_date = forms.DateField(label=_("End date"), widget=DateInput(), required=False,
                               help_text=_("Empty while ongoing."))
    dose_gy = forms.DecimalField(label=_("Total dose (Gy)"), required=False, max_digits=5, decimal_places=1,
                                 help_text=_("Radiotherapy only."))
    fractions = forms.IntegerField(label=_("Fractions"), required=False, help_text=_("Radiotherapy only."))
    completed_as_planned = _yes_no(_("Completed as planned"), required=False,
                                   help_text=_("With the end date."))
    reason = forms.CharField(label=_("Reason not completed as planned"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, lesions=(), mdt=None, **kwargs):
        if mdt is not None:
            kwargs["initial"] = {"lesion": mdt.lesion_id, "modality": mdt.modality, "start_date": mdt.start_date,
                                 "end_date": mdt.end_date, "dose_gy": mdt.dose_gy, "fractions": mdt.fractions,
                                 "completed_as_planned": _yes_no_initial(mdt.completed_as_planned),
                                 "reason": mdt.reason}
        super().__init__(*args, require_reason=mdt is not None, **kwargs)
        self.fields["lesion"].queryset = lesions
        self.fields["lesion"].label_from_instance = lambda lesion: " ".join(
            str(part) for part in (f"#{lesion.position}", lesion.get_organ_display(),
                                   f"{lesion.diameter_mm} mm" if lesion.diameter_mm is not None else "") if part)


class ContaminationForm(_Form):
    date = forms.DateField(label=_("Date"), widget=DateInput())
    modality = forms.ChoiceField(label=_("Modality"), choices=[("", "---------"), *Modality.choices])
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class AssessmentForm(_Form):
    date = forms.DateField(label=_("Assessment date"), widget=DateInput())
    study_visit = forms.TypedChoiceField(
        label=_("Source"), coerce=lambda value: value == "visit", empty_value=None,
        choices=[("", "---------"), ("visit", _("Study visit")), ("records", _("Medical records"))])
    progression = _yes_no(_("Progression by imaging"))
    progression_sites = forms.MultipleChoiceField(label=_("Where"), choices=PROGRESSION_SITE_CHOICES, required=False,
                                                  widget=forms.CheckboxSelectMultiple)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DeathForm(_Form):
    date = forms.DateField(label=_("Date of death"), widget=DateInput())
    cause = forms.ChoiceField(label=_("Cause"), choices=[("", "---------"), *Death.Cause.choices])
    details = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AliveForm(_Form):
    date = forms.DateField(label=_("Last date known alive"), widget=DateInput())
    source = forms.CharField(label=_("Source"), required=False, max_length=200,
                             help_text=_("e.g. outpatient visit, telephone call"))


class WithdrawalForm(_Form):
    date = forms.DateField(label=_("Withdrawal date"), widget=DateInput())
    kind = forms.ChoiceField(label=_("Kind"), choices=Withdrawal.Kind.choices, widget=forms.RadioSelect)
    details = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class OpenSurveyForm(_Form):
    cutoff_date = forms.DateField(label=_("Cut-off date"), widget=DateInput())


class SurveyEntryForm(_Form):
    status = forms.ChoiceField(label=_("Status as of the cut-off"), widget=forms.RadioSelect,
                               choices=[("alive", _("Alive")), ("dead", _("Dead"))])
    last_known_alive = forms.DateField(label=_("Last date known alive"), widget=DateInput(), required=False,
                                       help_text=_("When alive: the latest date from any contact or record."))
    death_date = forms.DateField(label=_("Date of death"), widget=DateInput(), required=False)
    cause = forms.ChoiceField(label=_("Cause of death"), required=False,
                              choices=[("", "---------"), *Death.Cause.choices])
    progression_since_last = _yes_no(_("Progression since the last survey"))


class LostForm(_Form):
    details = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
