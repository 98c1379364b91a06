"""Registration test helpers: eligible screenings by factory (not through the screening services),
therapy plans, and cheap bulk rows for the query-bound tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from oligami_site.models import Signature
from registration import services
from registration.models import PrimaryRegistration, ResponseEvaluation, SecondaryRegistration, TherapyPlan
from screening import eligibility as rules
from screening import verdicts
from screening.models import LabPanel, Patient, Screening
from tests.factories import PASSWORD, ScreeningFactory

JUDGED_ON = dt.date(2026, 3, 2)  # the date ScreeningFactory's worked case is judged on
PLAN_VALUES = {"luminal": (3, 28), "her2": (4, 21), "tnbc": (4, 21)}
RECEPTORS = {"luminal": {}, "her2": {"her2": "positive"}, "tnbc": {"er": "negative", "pgr": "negative"}}
NORMAL_LABS = {"anc": Decimal("3000"), "hemoglobin": Decimal("12.0"), "platelets": Decimal("220000"),
               "bilirubin": Decimal("0.6"), "ast": Decimal("20"), "alt": Decimal("20"), "creatinine": Decimal("0.8")}


def make_plans(effective_from=dt.date(2020, 1, 1), user=None) -> dict[str, TherapyPlan]:
    return {subtype: services.save_therapy_plan(subtype=subtype, regimen=f"Test regimen {subtype}",
                                                planned_courses=courses, cycle_length_days=days,
                                                effective_from=effective_from, user=user)
            for subtype, (courses, days) in PLAN_VALUES.items()}


def make_eligible_screening(*, on: dt.date = JUDGED_ON, site=None, subtype="luminal", labs_on: dt.date | None = None,
                            **overrides) -> Screening:
    """ScreeningFactory's eligible worked case with its dates moved to be judged on `on`, stored as the
    screening services would store it (outcome eligible, verdict snapshot, patient stage eligible)."""
    shift = on - JUDGED_ON
    kwargs = {
        "screening_date": on,
        "ct_date": dt.date(2026, 2, 18) + shift, "pet_date": dt.date(2026, 2, 20) + shift,
        "brain_mri_date": dt.date(2026, 2, 19) + shift, "consent_date": dt.date(2026, 2, 20) + shift,
        "labs__date": labs_on or dt.date(2026, 2, 24) + shift,
        **RECEPTORS[subtype],
    }
    if site is not None:
        kwargs["patient__site"] = site
    kwargs.update(overrides)
    screening = ScreeningFactory(**kwargs)
    verdict = rules.evaluate(screening.to_primary_facts())
    screening.verdict = verdicts.snapshot(verdict)
    screening.engine_version = verdict.engine_version
    screening.subtype = verdict.subtype
    screening.evaluated_at = timezone.now()
    screening.outcome = Screening.Outcome.ELIGIBLE if verdict.eligible else Screening.Outcome.NOT_ELIGIBLE
    screening.save()
    patient = screening.patient
    patient.stage = Patient.Stage.ELIGIBLE if verdict.eligible else Patient.Stage.SCREEN_FAILED
    patient.save()
    return screening


def register(screening, user, on=None, password=PASSWORD) -> PrimaryRegistration:
    return services.register_primary(screening=screening, user=user, password=password,
                                     registration_date=on or screening.screening_date)


def evaluation_data(on: dt.date, **overrides) -> dict:
    data = {"date": on, "overall_response": "PR", "progression": False, "new_distant_metastasis": False,
            "remaining_lesions": 2, "mdt_since_primary": False, "ecog": 0}
    data.update(overrides)
    return data


def record_courses(patient, user, given: int, until: dt.date) -> None:
    """Record systemic therapy courses through the follow-up service until `given` of them started from primary
    registration to `until` (S1 is derived from them, issue 16): spread evenly over the days left, each ending
    before the next starts. Courses already recorded count; none is ever removed."""
    from followup import services as followup_services
    from followup.models import SystemicCourse

    primary = PrimaryRegistration.objects.filter(patient=patient).first()
    patient.refresh_from_db(fields=["stage"])
    if primary is None or patient.stage not in (Patient.Stage.REGISTERED, Patient.Stage.RANDOMIZED):
        return  # courses are recorded from primary registration on: the evaluation service refuses on its own
    recorded = SystemicCourse.objects.filter(patient=patient, start_date__lte=until)
    missing = given - recorded.count()
    if missing <= 0:
        return
    last = SystemicCourse.objects.filter(patient=patient).order_by("-number").first()
    first_day = max(primary.registration_date, last.end_date if last is not None else primary.registration_date)
    step = max((until - first_day).days // missing, 0)
    for k in range(missing):
        start = first_day + dt.timedelta(days=k * step)
        followup_services.record_course(patient=patient, user=user, data={
            "start_date": start, "end_date": start + dt.timedelta(days=max(step - 1, 0)), "dose_modified": False,
            "stopped_early": False})


def record(patient, user, on: dt.date, labs_on: dt.date | None = None, reason=None, confirmed=True,
           courses_given: int = 4, **overrides):
    """Record an evaluation, with `courses_given` courses recorded by its date first (S1 is derived from the
    recorded courses, issue 16); `confirmed` answers the early-date / few-courses warnings (issue 15) with
    yes, as the tests written before the warnings expect (test_evaluation_corrections tests the warnings)."""
    record_courses(patient, user, courses_given, on)
    return services.record_evaluation(patient=patient, data=evaluation_data(on, **overrides),
                                      labs={"date": labs_on or on, **NORMAL_LABS}, user=user, reason=reason,
                                      confirmed=confirmed)


def bulk_patients(site, n: int, *, plan: TherapyPlan, user, today: dt.date, start: int = 1) -> list[Patient]:
    """n patients in a spread of statuses, built with bulk_create (test set-up only; the app never does)."""
    patients = Patient.objects.bulk_create([
        Patient(site=site, screening_number=f"{site.code}-B{start + i:05d}", sequence=start + i, sex="female",
                birth_date=dt.date(1970, 1, 1), stage=Patient.Stage.ELIGIBLE if i % 5 == 0
                else Patient.Stage.REGISTERED)
        for i in range(n)])
    panels = LabPanel.objects.bulk_create([LabPanel(patient=p, date=today - dt.timedelta(days=3), **NORMAL_LABS)
                                           for p in patients])
    screenings = Screening.objects.bulk_create([
        Screening(patient=p, number=1, screening_date=today - dt.timedelta(days=2), outcome="eligible", labs=panel)
        for p, panel in zip(patients, panels, strict=True)])
    registered = [(p, s) for p, s in zip(patients, screenings, strict=True) if p.stage == Patient.Stage.REGISTERED]
    signatures = Signature.objects.bulk_create([
        Signature(user=user, printed_name="Test", signed_at=timezone.now(), meaning="m", kind="primary_registration",
                  subject=p.screening_number) for p, _s in registered])
    base = PrimaryRegistration.objects.count()
    regs = PrimaryRegistration.objects.bulk_create([
        PrimaryRegistration(patient=p, screening=s, sequence=base + k + 1, number=f"OLG-{base + k + 1:05d}",
                            registration_date=today - dt.timedelta(days=(k * 7) % 140), verdict={},
                            engine_version="test", subtype="luminal", plan=plan, signature=sig)
        for k, ((p, s), sig) in enumerate(zip(registered, signatures, strict=True))])
    ResponseEvaluation.objects.bulk_create([
        ResponseEvaluation(patient=r.patient, date=r.registration_date + dt.timedelta(days=85), overall_response="SD",
                           progression=False, new_distant_metastasis=False, remaining_lesions=1, courses_given=3,
                           mdt_since_primary=False, ecog=0, labs=panel)
        for r, panel in zip(regs, [pn for p, pn in zip(patients, panels, strict=True)
                                   if p.stage == Patient.Stage.REGISTERED], strict=True)
        if r.registration_date + dt.timedelta(days=85) <= today])
    return patients


def bulk_randomized(site, n: int, *, plan: TherapyPlan, user, today: dt.date, start: int = 1) -> list[Patient]:
    """n randomized patients (primary and secondary registration, evaluation, allocation, arms alternating),
    built with bulk_create for the query-bound tests (test set-up only: the allocations' hashes are not a
    chain; the app only ever randomizes through randomization.services.randomize)."""
    from randomization.models import Allocation, RandomizationConfig

    config = RandomizationConfig.objects.get(active=True)
    patients = Patient.objects.bulk_create([
        Patient(site=site, screening_number=f"{site.code}-R{start + i:05d}", sequence=10_000 + start + i,
                sex="female", birth_date=dt.date(1970, 1, 1), stage=Patient.Stage.RANDOMIZED) for i in range(n)])
    panels = LabPanel.objects.bulk_create([LabPanel(patient=p, date=today - dt.timedelta(days=3), **NORMAL_LABS)
                                           for p in patients])
    screenings = Screening.objects.bulk_create([
        Screening(patient=p, number=1, screening_date=today - dt.timedelta(days=100), outcome="eligible", labs=panel)
        for p, panel in zip(patients, panels, strict=True)])
    signatures = Signature.objects.bulk_create([
        Signature(user=user, printed_name="Test", signed_at=timezone.now(), meaning="m", kind=kind,
                  subject=p.screening_number) for p in patients for kind in ("primary_registration",
                                                                              "secondary_registration")])
    base = PrimaryRegistration.objects.count()
    regs = PrimaryRegistration.objects.bulk_create([
        PrimaryRegistration(patient=p, screening=s, sequence=base + k + 1, number=f"OLG-{base + k + 1:05d}",
                            registration_date=today - dt.timedelta(days=95), verdict={}, engine_version="test",
                            subtype="luminal", plan=plan, signature=signatures[2 * k])
        for k, (p, s) in enumerate(zip(patients, screenings, strict=True))])
    evaluations = ResponseEvaluation.objects.bulk_create([
        ResponseEvaluation(patient=r.patient, date=today - dt.timedelta(days=8), overall_response="SD",
                           progression=False, new_distant_metastasis=False, remaining_lesions=1, courses_given=3,
                           mdt_since_primary=False, ecog=0, labs=panel)
        for r, panel in zip(regs, panels, strict=True)])
    SecondaryRegistration.objects.bulk_create([
        SecondaryRegistration(patient=r.patient, primary=r, registration_date=today - dt.timedelta(days=k % 40),
                              evaluation=e, verdict={}, engine_version="test", signature=signatures[2 * k + 1])
        for k, (r, e) in enumerate(zip(regs, evaluations, strict=True))])
    sequence = Allocation.objects.count()
    now = timezone.now()
    Allocation.objects.bulk_create([
        Allocation(config=config, sequence=sequence + k + 1, patient=p, arm="AB"[k % 2], method=config.method,
                   algorithm_version="test", factors={"site": site.code, "subtype": "luminal", "lesions": "1"},
                   counts_before={}, preferred="A", p=0.8, u=0.123456789, allocated_at=now - dt.timedelta(hours=k),
                   user=user, signed_name="Test", signed_at=now, signature_meaning="m", prev_hash="0" * 64,
                   hash=f"{site.pk:08d}{start + k:056d}", signature=signatures[2 * k + 1])
        for k, p in enumerate(patients)])
    return patients
