"""A patient's audit trail: every historical row of every record tied to the patient, in time order, field
by field old -> new, with who, when and why; plus the signatures and the allocation.

A selector composed on top of the trial apps (core models import none of them; this module may). The
records: the patient, her screenings (with her consent's date and version), their lesions (removed ones too),
her lab panels, the primary and secondary registrations, the response evaluation, off study, her
re-consents (issue 17), the signatures of her registrations, failed signature attempts on her, and her
allocation. Never the concealed allocation list.

Queries are bounded: one per kind of record (the history rows with their users), one for the therapy
plans and one for the users the rows point at, whatever the number of changes. Consecutive history
rows of one record are compared in Python (no query per row).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from followup.models import (
    Assessment,
    Contamination,
    Death,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    SurveyEntry,
    SystemicCourse,
    Withdrawal,
)
from oligami_site import reasons, signatures
from oligami_site.models import Signature, SignatureFailure, Site, User
from randomization.models import ALLOCATION_INTERNALS, Allocation
from registration.models import (
    SUBTYPE_CHOICES,
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)
from screening.models import ConsentDocument, LabPanel, Lesion, Patient, Reconsent, Screening

EMPTY = "–"
# Values that history rows may hold but the models no longer offer: the trail still names them.
# "ready_to_randomize": the patient's stage inside the secondary-registration transaction until the stage
# machine dropped it (screening.stages).
RETIRED_CHOICES = {"ready_to_randomize": _("Ready to randomize")}
KIND_LABELS = {"+": pgettext_lazy("history action", "created"), "~": pgettext_lazy("history action", "changed"),
               "-": pgettext_lazy("history action", "deleted")}
# Fields not shown as changes: the key, and the patient key of records that are the patient's own.
HIDDEN = {"id", "patient", "version"}  # version: the screening's save counter (issue 13), not a recorded fact
JSON_SUMMARY_KEYS = ("eligible", "subtype", "failed", "excluded_by", "missing")
# The summary's keys as the reader reads them (a verdict snapshot's keys are the engine's, in English).
JSON_SUMMARY_LABELS = {"eligible": _("eligible"), "subtype": _("subtype"), "failed": _("criteria not met"),
                       "excluded_by": _("exclusion criteria that apply"), "missing": _("criteria missing")}
# Fields whose model has no verbose name (changing the models would need migrations in three apps).
FIELD_LABELS = {"sequence": _("sequence number"), "created_at": _("created")}


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class Entry:
    when: dt.datetime
    kind: str  # "+", "~", "-"
    record_type: str  # key of RECORD_TYPES
    record: str  # e.g. "Lab panel #12 (screening 1)"
    user: str
    reason: str
    changes: list[Change] = field(default_factory=list)
    history_id: int = 0

    @property
    def kind_label(self):
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass
class Trail:
    patient: Patient
    entries: list[Entry]
    signatures: list[Signature]
    allocation: Allocation | None
    record_types: list[tuple[str, str]]


# (key, model, label) in the order a patient's records arise; the key is the page's filter value.
RECORD_TYPES = [
    ("patient", Patient, _("Patient")),
    ("screening", Screening, _("Screening")),
    ("lesion", Lesion, _("Lesion")),
    ("labpanel", LabPanel, _("Lab panel")),
    ("primary", PrimaryRegistration, _("Primary registration")),
    ("evaluation", ResponseEvaluation, _("Response evaluation")),
    ("secondary", SecondaryRegistration, _("Secondary registration")),
    ("offstudy", OffStudy, _("Off study")),
    # Her consents (issue 17): the first is on the screening (date and version); each re-consent is a record.
    ("reconsent", Reconsent, _("Re-consent")),
    ("signature", Signature, _("Signature")),
    ("signaturefailure", SignatureFailure, _("Failed signature")),
    ("allocation", Allocation, _("Allocation")),
    # After randomization (followup): every record of protocol treatment and follow-up is on the trail too.
    ("course", SystemicCourse, _("Systemic therapy course")),
    ("mdt", MetastasisDirectedTherapy, _("Metastasis-directed therapy")),
    ("contamination", Contamination, _("Metastasis-directed therapy outside the protocol")),
    ("assessment", Assessment, _("Tumour assessment")),
    ("lastalive", LastKnownAlive, _("Date known alive")),
    ("surveyentry", SurveyEntry, _("Follow-up survey entry")),
    ("lost", LostToFollowUp, _("Lost to follow-up")),
    ("withdrawal", Withdrawal, _("Withdrawal")),
    ("death", Death, _("Death")),
]
# Records of the patient found by patient_id (one query each), beyond those _sources reads by hand.
FOLLOWUP_KEYS = ("reconsent", "course", "mdt", "contamination", "assessment", "lastalive", "surveyentry", "lost",
                 "withdrawal", "death")
TYPE_ORDER = {key: n for n, (key, _m, _l) in enumerate(RECORD_TYPES)}
TYPE_LABELS = {key: label for key, _m, label in RECORD_TYPES}


def _history(model):
    return model.history.select_related("history_user").order_by("history_date", "history_id")


def _user_label(user) -> str:
    if user is None:
        return gettext("system")
    return f"{user.printed_name} ({user.username})"


def _summary_value(key, item) -> str:
    if isinstance(item, bool):
        return gettext("Yes") if item else gettext("No")
    if isinstance(item, list):
        return " ".join(map(str, item))  # criterion IDs (P5, E3...): the same in every language
    if key == "subtype" and isinstance(item, str):
        return str(dict(SUBTYPE_CHOICES).get(item, item))
    if isinstance(item, dict | list):
        return json.dumps(item, ensure_ascii=False, sort_keys=True, default=str)
    return str(item)


def _json_text(value) -> str:
    if isinstance(value, dict) and any(k in value for k in JSON_SUMMARY_KEYS):
        parts = []
        for key in JSON_SUMMARY_KEYS:
            item = value.get(key)
            if item not in (None, [], ""):
                parts.append(f"{JSON_SUMMARY_LABELS[key]}: {_summary_value(key, item)}")
        return "; ".join(parts)
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


class Formatter:
    """Values as people read them: choice labels, Yes/No, ISO dates, Tokyo times, names of plans and users."""

    def __init__(self, plans: dict[int, str], users: dict[int, str], names: dict | None = None):
        self.plans = plans
        self.users = users
        self.names = names or {}  # (model, id) -> name, e.g. (Screening, 33) -> "screening 1"

    def __call__(self, model_field: models.Field, value: Any) -> str:
        if value is None or value == "":
            return EMPTY
        if model_field.is_relation:
            target = model_field.related_model
            if target is TherapyPlan:
                return self.plans.get(value, f"#{value}")
            if target is User or target._meta.label == settings.AUTH_USER_MODEL:
                return self.users.get(value, f"#{value}")
            return self.names.get((target, value)) or f"{target._meta.verbose_name} #{value}"
        if model_field.model is SignatureFailure and model_field.name == "patient_id":
            # The core keeps the failure's patient as a plain id (it names no trial app): shown as a key was.
            return self.names.get((Patient, value)) or f"{Patient._meta.verbose_name} #{value}"
        if model_field.model is Signature and model_field.name == "meaning":
            return signatures.meaning_text(value)  # a code in the reader's language (an older text as stored)
        if model_field.choices:
            labels = {str(k): v for k, v in model_field.flatchoices}
            return str(labels.get(str(value)) or RETIRED_CHOICES.get(str(value), value))
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        if isinstance(value, dt.datetime):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(model_field, models.JSONField) or isinstance(value, dict | list):
            return _json_text(value)
        return str(value)


def _label(model_field) -> str:
    if str(model_field.verbose_name) == model_field.name.replace("_", " "):
        return str(FIELD_LABELS.get(model_field.name, model_field.verbose_name))
    return str(model_field.verbose_name)


def _fields(model):
    # The allocation's internals are the statistician's (issue 13), who does not read patients' trails: every
    # reader of the trail is a site user, a monitor or a data manager, so they are never on it.
    hidden = HIDDEN | set(ALLOCATION_INTERNALS) if model is Allocation else HIDDEN
    return [f for f in model.history.model.tracked_fields if f.name not in hidden]


def _value(row, model_field):
    return getattr(row, model_field.attname)


def _diff(model, previous, row, fmt: Formatter) -> list[Change]:
    changes = []
    for model_field in _fields(model):
        new = _value(row, model_field)
        if previous is None:
            if new is None or new == "":
                continue
            changes.append(Change(_label(model_field), EMPTY, fmt(model_field, new)))
            continue
        old = _value(previous, model_field)
        if old != new:
            changes.append(Change(_label(model_field), fmt(model_field, old), fmt(model_field, new)))
    return changes


def _sources(patient: Patient) -> dict[str, list]:
    """History rows of every record of the patient, per record type (one query each)."""
    rows: dict[str, list] = {}
    rows["patient"] = list(_history(Patient).filter(id=patient.pk))
    rows["screening"] = list(_history(Screening).filter(patient_id=patient.pk))
    screening_ids = {r.id for r in rows["screening"]}
    rows["lesion"] = list(_history(Lesion).filter(screening_id__in=screening_ids)) if screening_ids else []
    rows["labpanel"] = list(_history(LabPanel).filter(patient_id=patient.pk))
    rows["primary"] = list(_history(PrimaryRegistration).filter(patient_id=patient.pk))
    rows["evaluation"] = list(_history(ResponseEvaluation).filter(patient_id=patient.pk))
    rows["secondary"] = list(_history(SecondaryRegistration).filter(patient_id=patient.pk))
    rows["offstudy"] = list(_history(OffStudy).filter(patient_id=patient.pk))
    signature_ids = {r.signature_id for r in (*rows["primary"], *rows["secondary"])}
    rows["signature"] = list(_history(Signature).filter(id__in=signature_ids)) if signature_ids else []
    rows["signaturefailure"] = list(_history(SignatureFailure).filter(patient_id=patient.pk))
    rows["allocation"] = list(_history(Allocation).filter(patient_id=patient.pk))
    models_by_key = {key: model for key, model, _l in RECORD_TYPES}
    for key in FOLLOWUP_KEYS:
        rows[key] = list(_history(models_by_key[key]).filter(patient_id=patient.pk))
    return rows


def _labels(rows: dict[str, list], patient: Patient):
    """How each record is named on the page: e.g. lesion 2 of screening 1, lab panel of the evaluation."""
    screening_number = {r.id: r.number for r in rows["screening"]}
    panel_use = {}
    for r in rows["screening"]:
        if r.labs_id:
            panel_use[r.labs_id] = gettext("screening %(n)s") % {"n": r.number}
    for r in rows["evaluation"]:
        panel_use[r.labs_id] = gettext("response evaluation")

    def label(key: str, row) -> str:
        if key == "patient":
            return gettext("Patient %(number)s") % {"number": patient.screening_number}
        if key == "screening":
            return gettext("Screening %(n)s") % {"n": row.number}
        if key == "lesion":
            return gettext("Lesion %(position)s of screening %(n)s (#%(id)s)") % {
                "position": row.position, "n": screening_number.get(row.screening_id, "?"), "id": row.id}
        if key == "labpanel":
            use = panel_use.get(row.id)
            return (gettext("Lab panel #%(id)s (%(use)s)") % {"id": row.id, "use": use} if use
                    else gettext("Lab panel #%(id)s") % {"id": row.id})
        if key == "primary":
            return gettext("Primary registration %(number)s") % {"number": row.number}
        if key == "signature":
            return gettext("Signature: %(kind)s") % {"kind": signatures.kind_label(row.kind)}
        if key == "allocation":
            return gettext("Allocation #%(sequence)s") % {"sequence": row.sequence}
        if key == "reconsent":
            return gettext("Re-consent #%(id)s") % {"id": row.id}
        if key == "course":
            return gettext("Course %(number)s (#%(id)s)") % {"number": row.number, "id": row.id}
        if key in FOLLOWUP_KEYS and key not in ("death", "withdrawal", "lost"):  # several per patient
            return f"{TYPE_LABELS[key]} #{row.id}"
        return str(TYPE_LABELS[key])

    return label


def _formatter(rows: dict[str, list], patient: Patient) -> Formatter:
    plan_ids = {r.plan_id for r in rows["primary"]}
    plans = {p.pk: str(p) for p in TherapyPlan.objects.filter(pk__in=plan_ids)} if plan_ids else {}
    user_ids = {getattr(r, "user_id", None) for key in ("signature", "signaturefailure", "allocation")
                for r in rows[key]} - {None}
    users = ({u.pk: _user_label(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {})
    names = {(Site, patient.site_id): patient.site.code,
             **{(Screening, r.id): gettext("screening %(n)s") % {"n": r.number} for r in rows["screening"]}}
    # The consent document versions her consents name (issue 17): "2.0", not "consent document version #3".
    document_ids = ({r.consent_version_id for r in rows["screening"]}
                    | {r.document_id for r in rows["reconsent"]}) - {None}
    if document_ids:
        names.update({(ConsentDocument, pk): gettext("version %(version)s") % {"version": version}
                      for pk, version in ConsentDocument.objects.filter(pk__in=document_ids)
                      .values_list("pk", "version")})
    return Formatter(plans, users, names)


def trail_for(patient: Patient, *, record_type: str | None = None) -> Trail:
    """The patient's trail (`record_type`: only one kind of record, e.g. "labpanel")."""
    rows = _sources(patient)
    fmt = _formatter(rows, patient)
    label = _labels(rows, patient)
    models_by_key = {key: model for key, model, _l in RECORD_TYPES}
    entries = []
    for key, history_rows in rows.items():
        if record_type and key != record_type:
            continue
        model = models_by_key[key]
        previous_by_object: dict[int, Any] = {}
        for row in history_rows:
            previous = previous_by_object.get(row.id)
            changes = [] if row.history_type == "-" else _diff(model, previous, row, fmt)
            entries.append(Entry(when=row.history_date, kind=row.history_type, record_type=key,
                                 record=label(key, row), user=_user_label(row.history_user),
                                 reason=reasons.display(row.history_change_reason), changes=changes,
                                 history_id=row.history_id))
            previous_by_object[row.id] = row
    entries.sort(key=lambda e: (e.when, TYPE_ORDER[e.record_type], e.history_id))
    signature_ids = {r.signature_id for r in (*rows["primary"], *rows["secondary"])}
    signatures = list(Signature.objects.filter(pk__in=signature_ids).order_by("signed_at")) if signature_ids else []
    allocation = Allocation.objects.filter(patient=patient).select_related("user", "signature").first()
    present = {key for key, history_rows in rows.items() if history_rows}
    record_types = [(key, lbl) for key, _m, lbl in RECORD_TYPES if key in present]
    return Trail(patient=patient, entries=entries, signatures=signatures, allocation=allocation,
                 record_types=record_types)
