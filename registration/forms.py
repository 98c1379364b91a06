"""Forms of the registration pages: thin, the services validate and decide."""

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from oligami_site import auditing
from oligami_site.widgets import IsoDateInput
from screening.models import LabPanel

from .models import OffStudy, ResponseEvaluation

DateInput = IsoDateInput  # yyyy-mm-dd whatever the browser's locale (oligami_site.widgets)


def _yes_no(label):
    # A required choice, never a checkbox: an unticked box would silently record "no".
    return forms.TypedChoiceField(label=label, choices=[("", "---------"), ("yes", _("Yes")), ("no", _("No"))],
                                  coerce=lambda value: value == "yes", empty_value=None)


def _helper():
    helper = FormHelper()
    helper.form_tag = False  # the page holds one <form> around every part and the signature
    return helper


class SignatureForm(forms.Form):
    """The signer re-enters their password; the meaning is shown beside it on the page."""

    password = forms.CharField(
        label=_("Your password (electronic signature)"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()


class ResponseEvaluationForm(forms.ModelForm):
    progression = _yes_no(_("Progression"))
    new_distant_metastasis = _yes_no(_("New distant metastasis"))
    mdt_since_primary = _yes_no(_("Metastasis-directed therapy (radiation or surgery) since primary registration"))
    reason = forms.CharField(label=_("Reason for the change"), max_length=auditing.REASON_MAX_LENGTH, required=False,
                             help_text=_("Required when an evaluation is already recorded."))

    class Meta:
        model = ResponseEvaluation
        fields = ["date", "overall_response", "progression", "new_distant_metastasis", "remaining_lesions",
                  "mdt_since_primary", "ecog"]  # no typed courses: S1 is derived from the recorded courses
        widgets = {"date": DateInput()}

    confirm = forms.BooleanField(label=_("I confirm: save the evaluation as entered"), required=False)

    def __init__(self, *args, require_reason=False, ask_confirmation=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()
        if self.instance.pk:
            for name in ("progression", "new_distant_metastasis", "mdt_since_primary"):
                self.initial[name] = "yes" if getattr(self.instance, name) else "no"
        if not require_reason:
            del self.fields["reason"]
        # The box appears once the service has warned (issue 15); a re-submission carries it back ticked.
        if not (ask_confirmation or (self.data and self.data.get("confirm"))):
            del self.fields["confirm"]


class VoidEvaluationForm(forms.Form):
    reason = forms.CharField(label=_("Reason for voiding"), max_length=auditing.REASON_MAX_LENGTH,
                             help_text=_("Required: why this entry is a mistake (shown on the audit trail)."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()


class LabPanelForm(forms.ModelForm):
    class Meta:
        model = LabPanel
        fields = ["date", "anc", "hemoglobin", "platelets", "bilirubin", "ast", "alt", "creatinine"]
        widgets = {"date": DateInput()}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "labs")
        super().__init__(*args, **kwargs)
        self.fields["date"].required = True
        self.helper = _helper()


class OffStudyForm(forms.ModelForm):
    class Meta:
        model = OffStudy
        fields = ["date", "reason", "details"]
        widgets = {"date": DateInput(), "details": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()
