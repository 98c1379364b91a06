"""The follow-up selectors (and the re-consent list) as they were before issue 21's second round, kept only
as the reference the tests compare the current ones with (tests/followup/test_followup_rows.py; and on a
bench database, bench/compare_followup.py). They read the follow-up tables with a `patient_id IN (ids)` list
per table. Not used by the application."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Max

from followup import endpoints
from followup.models import (
    Assessment,
    Contamination,
    Death,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    SurveyEntry,
    Withdrawal,
)
from followup.selectors import (
    ArmFlow,
    PatientFollowup,
    StatusAsOf,
    SurveyRow,
    SurvivalData,
    randomized_patients,
    status_unknown_days,
)
from randomization.models import Arm
from screening import consents
from screening.eligibility import consent as consent_rules
from screening.models import Reconsent, Screening


def followup_for(origins: dict[int, date]) -> dict[int, PatientFollowup]:
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
    return dict(randomized_patients(queryset).values_list("id", "secondary_registration__registration_date"))


def survey_rows(survey, patients) -> list[SurveyRow]:
    cutoff = survey.cutoff_date
    base = (randomized_patients(patients).filter(secondary_registration__registration_date__lte=cutoff)
            .values_list("id", "screening_number", "primary_registration__number", "site_id", "site__code",
                         "secondary_registration__registration_date").order_by("site__code", "sequence"))
    patients_rows = list(base)
    followups = followup_for({row[0]: row[5] for row in patients_rows})
    entries = {pid: (status, alive) for pid, status, alive in SurveyEntry.objects.filter(
        survey=survey, patient_id__in=[row[0] for row in patients_rows]).values_list(
        "patient_id", "status", "last_known_alive")}
    threshold = status_unknown_days()
    rows = []
    for pid, number, registration_number, site_id, site_code, origin in patients_rows:
        f = followups[pid]
        death = f.facts.death_date
        withdrawal = f.facts.withdrawal
        entry = entries.get(pid)
        alive = None if death is not None else endpoints.last_known_alive(endpoints.usable_facts(f.facts))
        if entry is not None:
            state = "confirmed"
        elif death is not None and death <= cutoff:
            state = "dead"
        elif f.lost_to_follow_up:
            state = "lost"
        elif withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_ALL_DATA and withdrawal.date <= cutoff:
            state = "withdrawn"
        else:
            state = "to_update"
        unknown = (state == "to_update" and threshold is not None and alive is not None
                   and (cutoff - alive).days > threshold)
        rows.append(SurveyRow(patient_id=pid, screening_number=number, registration_number=registration_number or "",
                              site_id=site_id, site_code=site_code, origin=origin, last_known_alive=alive,
                              death_date=death, withdrawal=withdrawal, lost=f.lost_to_follow_up,
                              entry_status=entry[0] if entry else None, entry_alive=entry[1] if entry else None,
                              state=state, status_unknown=unknown))
    return rows


def status_as_of(patients, cutoff: date) -> list[StatusAsOf]:
    rows = list(randomized_patients(patients).filter(secondary_registration__registration_date__lte=cutoff)
                .values_list("id", "site_id", "secondary_registration__registration_date").order_by())
    followups = followup_for({pid: origin for pid, _site, origin in rows})
    earliest = cutoff - timedelta(days=status_unknown_days() or 0)
    result = []
    for pid, site_id, _origin in rows:
        f = followups[pid]
        death, withdrawal = f.facts.death_date, f.facts.withdrawal
        known = ((death is not None and death <= cutoff) or f.lost_to_follow_up
                 or (withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_ALL_DATA
                     and withdrawal.date <= cutoff)
                 or endpoints.last_known_alive(endpoints.usable_facts(f.facts)) >= earliest)
        result.append(StatusAsOf(pid, site_id, bool(known)))
    return result


def survival_data(patients, *, by_arm: bool) -> SurvivalData:
    rows = list(randomized_patients(patients).values_list("id", "secondary_registration__registration_date",
                                                          "allocation__arm"))
    followups = followup_for({pid: origin for pid, origin, _arm in rows})
    os_groups, pfs_groups = defaultdict(list), defaultdict(list)
    unknown = 0
    for pid, _origin, arm in rows:
        result = followups[pid].result
        if not result.known:
            unknown += 1
            continue
        group = (arm or "?") if by_arm else "all"
        os_groups[group].append((result.os_days, result.os_event))
        pfs_groups[group].append((result.pfs_days, result.pfs_event))
    return SurvivalData(os={k: tuple(v) for k, v in sorted(os_groups.items())},
                        pfs={k: tuple(v) for k, v in sorted(pfs_groups.items())}, unknown=unknown, total=len(rows))


def after_randomization(patients) -> dict[str, ArmFlow]:
    rows = list(randomized_patients(patients).values_list("id", "secondary_registration__registration_date",
                                                          "allocation__arm"))
    ids = [pid for pid, _origin, _arm in rows]
    followups = followup_for({pid: origin for pid, origin, _arm in rows})
    with_mdt = set(MetastasisDirectedTherapy.objects.filter(patient_id__in=ids).values_list("patient_id", flat=True))
    contaminated = set(Contamination.objects.filter(patient_id__in=ids).values_list("patient_id", flat=True))
    flows = {arm: ArmFlow() for arm in Arm.values}
    for pid, _origin, arm in rows:
        flow = flows.setdefault(arm, ArmFlow())
        f = followups[pid]
        withdrawal = f.facts.withdrawal
        flow.allocated += 1
        flow.received += (pid in with_mdt) if arm == Arm.B else (pid not in contaminated)
        flow.discontinued += withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_TREATMENT
        flow.withdrawn += withdrawal is not None and withdrawal.kind != endpoints.WITHDRAWAL_TREATMENT
        flow.lost += f.lost_to_follow_up
        flow.analysed += f.result.known
    return flows


# --- screening.consents.awaiting_reconsent as it was: every candidate loaded, the rule asked per patient -------

def latest_consents(patient_ids, documents):
    patient_ids = list(patient_ids)
    result = {}
    for patient_id, version_id, day in (Screening.objects.filter(patient_id__in=patient_ids)
                                        .order_by("patient_id", "number")
                                        .values_list("patient_id", "consent_version_id", "consent_date")):
        result[patient_id] = (documents.get(version_id), day)  # the latest screening comes last
    for patient_id, document_id, day in (Reconsent.objects.filter(patient_id__in=patient_ids)
                                         .order_by("patient_id", "date", "id")
                                         .values_list("patient_id", "document_id", "date")):
        result[patient_id] = (documents[document_id], day)  # the latest re-consent wins over the screening
    return result


def awaiting_reconsent(patients, today: date, documents=None):
    documents = consents.versions() if documents is None else documents
    if not any(d.superseded_date is not None and d.superseded_date <= today for d in documents):
        return []
    patients = list(patients)
    latest = latest_consents((p.pk for p in patients), {d.pk: d for d in documents})
    rows = []
    for patient in patients:
        document, day = latest.get(patient.pk, (None, None))
        if consent_rules.reconsent_due(document.to_facts() if document else None, today):
            rows.append((patient, document, day))
    return rows
