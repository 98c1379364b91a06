"""Reads that span the follow-up models: treatment facts for safety reporting, each randomized patient's
endpoint facts (F1-F5 through followup/endpoints.py), all in a bounded number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Max, Min, Q

from screening.models import Patient

from . import endpoints
from .models import (
    Assessment,
    Death,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    SystemicCourse,
    Withdrawal,
)


@dataclass(frozen=True)
class TreatmentFacts:
    start_date: date | None  # first day of the first systemic course after primary registration
    last_day: date | None  # last protocol treatment day (FOLLOWUP.md): latest end of a course or an MDT
    ongoing: bool  # any course or MDT ongoing


NO_TREATMENT = TreatmentFacts(start_date=None, last_day=None, ongoing=False)


def treatment_facts(patient) -> TreatmentFacts:
    pk = patient.pk if isinstance(patient, Patient) else patient
    return treatment_facts_for([pk]).get(pk, NO_TREATMENT)


def treatment_facts_for(patient_ids: Iterable[int]) -> dict[int, TreatmentFacts]:
    """{patient id: TreatmentFacts} of every given patient, in two queries whatever their number.

    "Last protocol treatment day" is the latest end date of any systemic course or metastasis-directed
    therapy given under the protocol (courses are recorded from primary registration on; MDT in arm B
    only; contamination in arm A is not protocol treatment). While something is ongoing, `last_day` is
    the latest end so far and `ongoing` is True: the safety clock has not started yet.
    """
    ids = list(patient_ids)
    if not ids:
        return {}
    rows = defaultdict(lambda: {"start": None, "end": None, "ongoing": False})
    aggregates = {"start": Min("start_date"), "end": Max("end_date"),
                  "open": Max("id", filter=Q(end_date__isnull=True))}
    for model in (SystemicCourse, MetastasisDirectedTherapy):
        for row in model.objects.filter(patient_id__in=ids).values("patient_id").annotate(**aggregates).order_by():
            facts = rows[row["patient_id"]]
            if model is SystemicCourse:
                facts["start"] = row["start"]
            if row["end"] is not None and (facts["end"] is None or row["end"] > facts["end"]):
                facts["end"] = row["end"]
            facts["ongoing"] = facts["ongoing"] or row["open"] is not None
    return {pk: TreatmentFacts(start_date=rows[pk]["start"], last_day=rows[pk]["end"], ongoing=rows[pk]["ongoing"])
            if pk in rows else NO_TREATMENT for pk in ids}


# --- endpoints --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFollowup:
    """A randomized patient's follow-up as the pages, exports and pictures need it."""

    patient_id: int
    origin: date
    facts: endpoints.Facts
    result: endpoints.Endpoints
    death_cause: str | None
    lost_to_follow_up: bool


def randomized_patients(queryset=None):
    """Randomized patients (stage randomized, with a secondary registration), their origin as `origin`."""
    queryset = queryset if queryset is not None else Patient.objects.all()
    return queryset.filter(stage=Patient.Stage.RANDOMIZED, secondary_registration__isnull=False)


def followup_for(origins: dict[int, date]) -> dict[int, PatientFollowup]:
    """{patient id: PatientFollowup} for {patient id: randomization date}, in five queries whatever the
    number of patients (on PostgreSQL the id list is one array parameter)."""
    ids = list(origins)
    if not ids:
        return {}
    assessments = defaultdict(list)
    for pid, day, progression in Assessment.objects.filter(patient_id__in=ids).values_list(
            "patient_id", "date", "progression").order_by():
        assessments[pid].append(endpoints.Assessment(day, progression))
    alive = dict(LastKnownAlive.objects.filter(patient_id__in=ids).values("patient_id")
                 .annotate(latest=Max("date")).values_list("patient_id", "latest").order_by())
    deaths = {pid: (day, cause) for pid, day, cause in
              Death.objects.filter(patient_id__in=ids).values_list("patient_id", "date", "cause")}
    withdrawals = {pid: endpoints.Withdrawal(day, kind) for pid, day, kind in
                   Withdrawal.objects.filter(patient_id__in=ids).values_list("patient_id", "date", "kind")}
    lost = set(LostToFollowUp.objects.filter(patient_id__in=ids).values_list("patient_id", flat=True))
    result = {}
    for pid, origin in origins.items():
        death = deaths.get(pid)
        facts = endpoints.Facts(randomization_date=origin, assessments=tuple(assessments.get(pid, ())),
                                last_known_alive=alive.get(pid), death_date=death[0] if death else None,
                                withdrawal=withdrawals.get(pid))
        result[pid] = PatientFollowup(patient_id=pid, origin=origin, facts=facts, result=endpoints.compute(facts),
                                      death_cause=death[1] if death else None, lost_to_follow_up=pid in lost)
    return result


def origins_of(queryset) -> dict[int, date]:
    """{patient id: randomization date} of the randomized patients of a queryset (one query)."""
    return dict(randomized_patients(queryset).values_list("id", "secondary_registration__registration_date"))


def followup_of(patient) -> PatientFollowup | None:
    pk = patient.pk if isinstance(patient, Patient) else patient
    return followup_for(origins_of(Patient.objects.filter(pk=pk))).get(pk)
