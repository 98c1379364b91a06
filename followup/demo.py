"""Demo follow-up data: randomized patients with systemic therapy courses, metastasis-directed therapy
(arm B) or contamination (arm A), assessments (one progression), a death, a withdrawal, the schedule of
assessments and the "status unknown" threshold (example values, named as such), and one open follow-up
survey with some entries confirmed, so that every follow-up page shows something on `make run`.

Everything goes through the services, with dates relative to today. Idempotent: each demo patient is
found again by its site and a marker in its initials (F + a letter); the configuration and the survey
are created only when there is none.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from oligami_site.demo import clock, demo_password
from oligami_site.models import Membership, Site, User
from randomization.models import Allocation, Arm
from registration import demo as registration_demo
from registration import services as registration_services
from registration.demo import NORMAL_LABS, RECEPTORS
from registration.models import PrimaryRegistration
from screening import consents
from screening import services as screening_services
from screening.demo import eligible_facts
from screening.models import Patient

from . import reconsent, services
from .models import FollowupSettings, FollowupSurvey, ScheduleRule, SystemicCourse

# The demo's schedule and threshold: EXAMPLES, not the protocol's (FOLLOWUP.md: trial configuration).
EXAMPLE_SCHEDULE = [(0, 84, 14), (1092, 182, 28)]  # every 12 weeks +/- 14 days, from year 3 every 26 weeks
EXAMPLE_STATUS_UNKNOWN_DAYS = 180
EXAMPLE_MDT_START_DAYS = 42  # an example for the demo's automatic check (mdt_late); the trial decides

# (site, marker, subtype, days since randomization, what happens: "progression", "death", "withdrawal",
#  "survey" (confirmed in the open survey), "" nothing more)
DEMO_PATIENTS = [
    ("TMDU", "FA", "luminal", 420, "progression"),
    ("TMDU", "FB", "her2", 380, "death"),
    ("TMDU", "FC", "tnbc", 300, "survey"),
    ("TMDU", "FD", "luminal", 250, "withdrawal"),
    ("TMDU", "FE", "her2", 200, ""),
    ("OKAYAMA", "FA", "luminal", 360, "survey"),
    ("OKAYAMA", "FB", "tnbc", 150, "progression"),
    ("OKAYAMA", "FC", "her2", 90, ""),
]
PRIMARY_BEFORE = 86  # days between primary and secondary registration in the demo (inside S3/S4)


def _coordinator(site):
    membership = (Membership.objects.filter(site=site, role=Membership.Role.COORDINATOR, active=True)
                  .select_related("user").order_by("user__username").first())
    return membership.user if membership else None


def _configuration(manager) -> None:
    if not ScheduleRule.objects.exists():
        for from_day, interval, window in EXAMPLE_SCHEDULE:
            services.save_schedule_rule(rule=ScheduleRule(from_day=from_day, interval_days=interval,
                                                          window_days=window),
                                        user=manager, reason="Demo schedule (example values)")
    if not FollowupSettings.objects.exists():
        services.save_followup_settings(status_unknown_days=EXAMPLE_STATUS_UNKNOWN_DAYS, user=manager,
                                        mdt_start_days=EXAMPLE_MDT_START_DAYS,
                                        reason="Demo threshold (example value)")


def _randomized(site, user, password, today, marker, subtype, days) -> Patient:
    origin = today - dt.timedelta(days=days)
    registered_on = origin - dt.timedelta(days=PRIMARY_BEFORE)
    data, lesions, labs = eligible_facts(registered_on, **RECEPTORS[subtype])
    # Each step written as on its own day (core demo clock): signature and history times match their dates.
    with clock(registered_on, hour=9):
        patient = screening_services.create_patient(site=site, sex="female",
                                                    birth_date=dt.date(1962 + days % 15, 3, 8), initials=marker,
                                                    user=user)
        screening = screening_services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs,
                                                      user=user)
    with clock(registered_on, hour=14):
        registration = registration_services.register_primary(screening=screening, user=user, password=password,
                                                              registration_date=registered_on)
    # The planned courses before the evaluation: S1 is derived from them (issue 16).
    _courses(patient, user, until=origin - dt.timedelta(days=2), limit=registration.plan.planned_courses, today=today)
    with clock(origin - dt.timedelta(days=2), hour=16):
        registration_services.record_evaluation(
            patient=patient,
            data={"date": origin - dt.timedelta(days=2), "overall_response": "PR", "progression": False,
                  "new_distant_metastasis": False, "remaining_lesions": 2, "mdt_since_primary": False, "ecog": 0},
            labs={"date": origin - dt.timedelta(days=2), **NORMAL_LABS}, user=user)
    with clock(origin, hour=10):
        registration_services.register_secondary(patient=patient, user=user, password=password,
                                                 registration_date=origin)
    patient.refresh_from_db()
    return patient


def _courses(patient, user, *, until, limit, today) -> None:
    """Consecutive courses of the patient's plan from primary registration on (after the last one recorded),
    each starting on or before `until`, at most `limit` in all; a course not ended by today is ongoing."""
    primary = PrimaryRegistration.objects.select_related("plan").get(patient=patient)
    cycle = primary.plan.cycle_length_days
    last = SystemicCourse.objects.filter(patient=patient).order_by("-number").first()
    if last is not None and last.end_date is None:
        return
    number = last.number if last is not None else 0
    start = last.end_date + dt.timedelta(days=1) if last is not None else primary.registration_date
    while number < limit and start <= until:
        end = start + dt.timedelta(days=cycle - 1)
        services.record_course(patient=patient, user=user, data={
            "plan": primary.plan, "start_date": start, "end_date": end if end <= today else None,
            "dose_modified": number == 2, "stopped_early": False})
        if end > today:
            return
        start = end + dt.timedelta(days=1)
        number += 1


def _registration_demo(password, today) -> int:
    """The registration demo's patients (registration.demo) get the courses of their plan recorded up to the
    evaluation (or today, on therapy), and the one meant to be randomized today is secondary registered: S1
    reads the recorded courses, which only this app writes (issue 16). Idempotent: a patient with courses or
    no longer registered is left alone."""
    randomized = 0
    for site_code, marker, _subtype, _what, _primary, evaluation, secondary, _off in registration_demo.DEMO_PATIENTS:
        patient = Patient.objects.filter(site__code=site_code, initials=marker).first()
        user = patient and _coordinator(patient.site)
        if user is None or patient.stage != Patient.Stage.REGISTERED:
            continue
        if not SystemicCourse.objects.filter(patient=patient).exists():
            plan = PrimaryRegistration.objects.select_related("plan").get(patient=patient).plan
            until = today - dt.timedelta(days=evaluation[0]) if evaluation else today
            _courses(patient, user, until=until, limit=plan.planned_courses, today=today)
        if secondary:
            registration_services.register_secondary(patient=patient, user=user, password=password,
                                                     registration_date=today)
            randomized += 1
    return randomized


def _treatment(patient, user, today, days) -> None:
    origin = today - dt.timedelta(days=days)
    plan = patient.primary_registration.plan
    _courses(patient, user, until=today - dt.timedelta(days=plan.cycle_length_days), limit=8, today=today)
    arm = Allocation.objects.get(patient=patient).arm
    if arm == Arm.B:
        for offset, lesion in enumerate(services.remaining_lesions(patient)):
            begin = origin + dt.timedelta(days=14 + 7 * offset)
            if begin + dt.timedelta(days=4) > today:
                break
            services.record_mdt(patient=patient, user=user, data={
                "lesion": lesion.pk, "modality": "sbrt", "start_date": begin,
                "end_date": begin + dt.timedelta(days=4), "dose_gy": "35.0", "fractions": 5,
                "completed_as_planned": True})
    elif days > 200:
        services.record_contamination(patient=patient, user=user, data={
            "date": origin + dt.timedelta(days=150), "modality": "conventional_rt",
            "reason": "Demo: palliative radiotherapy for a painful bone lesion."})


def _follow_up(patient, user, today, days, event) -> None:
    origin = today - dt.timedelta(days=days)
    assessed = list(range(84, days + 1, 84))
    for n, day in enumerate(assessed):
        progression = event == "progression" and n == len(assessed) - 1
        services.record_assessment(patient=patient, user=user, data={
            "date": origin + dt.timedelta(days=day), "progression": progression,
            "progression_sites": ["new_organ"] if progression else [], "notes": "Demo assessment"})
    if event == "death":
        services.record_death(patient=patient, user=user, data={
            "date": origin + dt.timedelta(days=assessed[-1] + 20), "cause": "breast_cancer",
            "details": "Demo"})
    elif event == "withdrawal":
        services.record_withdrawal(patient=patient, user=user, data={
            "date": origin + dt.timedelta(days=assessed[-1] + 5), "kind": "visits",
            "details": "Demo: the patient prefers follow-up by her own physician."})


@transaction.atomic
def seed(*, stdout) -> None:
    today = timezone.localdate()
    manager = User.objects.filter(username="dm").first()
    _configuration(manager)
    password, _generated = demo_password()
    randomized = _registration_demo(password, today)
    created = 0
    survey_patients = []
    for site_code, marker, subtype, days, event in DEMO_PATIENTS:
        site = Site.objects.filter(code=site_code).first()
        user = site and _coordinator(site)
        if user is None or Patient.objects.filter(site=site, initials=marker).exists():
            continue
        patient = _randomized(site, user, password, today, marker, subtype, days)
        _treatment(patient, user, today, days)
        _follow_up(patient, user, today, days, event)
        if event == "survey":
            survey_patients.append((patient, user))
        created += 1
    if manager is not None and not FollowupSurvey.objects.exists():
        survey = services.open_survey(cutoff_date=today - dt.timedelta(days=14), user=manager)
        for patient, user in survey_patients:
            services.confirm_survey_entry(survey=survey, patient=patient, user=user, data={
                "status": "alive", "last_known_alive": today - dt.timedelta(days=20),
                "progression_since_last": False})
    reconsented = _reconsents(today)
    if randomized:
        stdout.write(f"Registration demo: {randomized} patients secondary registered after their courses.")
    stdout.write(f"Follow-up demo: {created} randomized patients created." if created
                 else "Follow-up demo: already there, nothing created.")
    if reconsented:
        stdout.write(f"Consent demo: {reconsented} re-consents on the new version recorded.")


# The one patient left awaiting re-consent (issue 17): randomized at the site that closes to accrual, so
# the demo shows re-consent going on there.
AWAITING_RECONSENT = ("OKAYAMA", "FC")


def _reconsents(today) -> int:
    """Every patient who must re-consent on the demo's new version (screening.demo) does so ten days ago,
    except AWAITING_RECONSENT. Idempotent: once recorded, a patient is no longer awaiting."""
    recorded = 0
    for row in reconsent.awaiting(Patient.objects.all(), today):
        patient = row.patient
        if (patient.site.code, patient.initials) == AWAITING_RECONSENT:
            continue
        user = _coordinator(patient.site)
        document = consents.version_on(today)
        if user is None or document is None:
            continue
        consents.record_reconsent(patient=patient, document=document,
                                  date=max(document.effective_date, today - dt.timedelta(days=10)), user=user,
                                  reason="Demo: re-consent on the revised document")
        recorded += 1
    return recorded
