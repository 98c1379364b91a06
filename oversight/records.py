"""The records of a patient that a data query may point at, with the path from each to its patient.

Keys are the audit trail's record-type keys, so that a query's record opens the trail filtered on it.
Apps that land later (follow-up, safety) add their records here: the roof may import every app.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from followup.models import (
    Assessment,
    Contamination,
    Death,
    LastKnownAlive,
    MetastasisDirectedTherapy,
    SystemicCourse,
    Withdrawal,
)
from registration.models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration
from screening.models import LabPanel, Lesion, Patient, Screening


@dataclass(frozen=True)
class RecordType:
    key: str
    model: type[models.Model]
    patient_path: str  # lookup from the record to its patient's id
    label: object


RECORD_TYPES = [
    RecordType("patient", Patient, "id", _("Patient")),
    RecordType("screening", Screening, "patient_id", _("Screening")),
    RecordType("lesion", Lesion, "screening__patient_id", _("Lesion")),
    RecordType("labpanel", LabPanel, "patient_id", _("Lab panel")),
    RecordType("primary", PrimaryRegistration, "patient_id", _("Primary registration")),
    RecordType("evaluation", ResponseEvaluation, "patient_id", _("Response evaluation")),
    RecordType("secondary", SecondaryRegistration, "patient_id", _("Secondary registration")),
    RecordType("offstudy", OffStudy, "patient_id", _("Off study")),
    RecordType("course", SystemicCourse, "patient_id", _("Systemic therapy course")),
    RecordType("mdt", MetastasisDirectedTherapy, "patient_id", _("Metastasis-directed therapy")),
    RecordType("contamination", Contamination, "patient_id", _("Metastasis-directed therapy outside the protocol")),
    RecordType("assessment", Assessment, "patient_id", _("Tumour assessment")),
    RecordType("lastalive", LastKnownAlive, "patient_id", _("Date known alive")),
    RecordType("withdrawal", Withdrawal, "patient_id", _("Withdrawal")),
    RecordType("death", Death, "patient_id", _("Death")),
]
BY_KEY = {r.key: r for r in RECORD_TYPES}
# Fields a query may not name: keys and bookkeeping that no one enters.
NOT_QUERYABLE = {"id", "patient", "created_at", "verdict", "engine_version", "evaluated_at", "sequence"}


def queryable_fields(record_type: RecordType) -> list[tuple[str, str]]:
    """(field name, verbose name) of the fields of a record type a site enters."""
    return [(f.name, str(f.verbose_name)) for f in record_type.model._meta.concrete_fields
            if f.name not in NOT_QUERYABLE]


def field_label(record_key: str, field_name: str) -> str:
    record_type = BY_KEY.get(record_key)
    if record_type is None or not field_name:
        return field_name
    try:
        return str(record_type.model._meta.get_field(field_name).verbose_name)
    except models.FieldDoesNotExist:
        return field_name


def records_of(patient: Patient) -> list[tuple[str, int, str]]:
    """(record key, id, label) of every record of the patient a query may point at, one query per type."""
    found = []
    for record_type in RECORD_TYPES:
        if record_type.key == "patient":
            found.append(("patient", patient.pk, str(_("Patient %(number)s") % {"number": patient.screening_number})))
            continue
        ids = record_type.model.objects.filter(**{record_type.patient_path: patient.pk}).order_by("pk")
        for pk in ids.values_list("pk", flat=True):
            found.append((record_type.key, pk, f"{record_type.label} #{pk}"))
    return found


def belongs_to(record_key: str, record_id: int, patient_id: int) -> bool:
    record_type = BY_KEY.get(record_key)
    if record_type is None:
        return False
    return record_type.model.objects.filter(pk=record_id, **{record_type.patient_path: patient_id}).exists()
