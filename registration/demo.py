"""Demo registration data: therapy plans for the three subtypes, and patients in every status of the
two-step registration (on therapy, evaluation due, window open, window closing, ready to randomize,
window missed, off study), so the worklist and the patient pages show every deadline.

Everything is written through the services (screening's for the patient and screening, this app's for
registration, evaluation and signatures), signed by the site's demo coordinator with the demo password,
with dates relative to today (`timezone.localdate()`). Idempotent: each demo patient is found again by
its site and a marker in its initials (R + a letter); an existing one is left alone, and plans are only
created when the subtype has none, so a second run creates nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oligami_site.demo import clock, demo_password
from oligami_site.models import Membership, Site, User
from screening import services as screening_services
from screening.demo import eligible_facts
from screening.models import Patient

from . import services
from .models import OffStudy, TherapyPlan

DEMO_NOTE = "DEMO VALUES, to be set by the data centre from the protocol."
DEMO_PLANS = {
    "luminal": ("Endocrine therapy + CDK4/6 inhibitor (e.g. letrozole + palbociclib). " + DEMO_NOTE, 3, 28),
    "her2": ("Trastuzumab + pertuzumab + taxane (docetaxel). " + DEMO_NOTE, 4, 21),
    "tnbc": ("Anthracycline/taxane-based chemotherapy (e.g. EC followed by paclitaxel). " + DEMO_NOTE, 4, 21),
}
# The same in Japanese (TherapyPlan.regimen_ja: Japanese pages and certificates; GLOSSARY terms).
DEMO_NOTE_JA = "デモ用の値です。データセンターがプロトコールに基づき設定します。"
DEMO_PLANS_JA = {
    "luminal": "内分泌療法＋CDK4/6阻害薬（例：レトロゾール＋パルボシクリブ）。" + DEMO_NOTE_JA,
    "her2": "トラスツズマブ＋ペルツズマブ＋タキサン（ドセタキセル）。" + DEMO_NOTE_JA,
    "tnbc": "アントラサイクリン・タキサン系化学療法（例：EC療法後にパクリタキセル）。" + DEMO_NOTE_JA,
}
RECEPTORS = {
    "luminal": {},
    "her2": {"her2": "positive"},
    "tnbc": {"er": "negative", "pgr": "negative"},
}


# (site, marker, subtype, what it shows, primary day offset, evaluation (offset, lab offset, response,
#  remaining) or None, secondary today? (done by followup.demo after the courses, S1), off study (offset,
#  reason) or None). Offsets are days before today.
DEMO_PATIENTS = [
    ("TMDU", "RA", "her2", "on therapy", 20, None, False, None),
    ("TMDU", "RB", "luminal", "evaluation due", 88, None, False, None),
    ("TMDU", "RC", "tnbc", "window open", 90, (3, 3, "PR", 2), False, None),
    ("TMDU", "RD", "luminal", "window closing", 121, (12, 5, "SD", 1), False, None),
    ("TMDU", "RE", "her2", "ready to randomize", 95, (6, 6, "PR", 1), True, None),
    ("TMDU", "RF", "luminal", "window missed", 130, (44, 44, "SD", 2), False, None),
    ("TMDU", "RG", "tnbc", "off study", 60, None, False, (7, OffStudy.Reason.WITHDRAWAL)),
    ("OKAYAMA", "RA", "luminal", "window open", 100, (10, 8, "SD", 1), False, None),
    ("OKAYAMA", "RB", "her2", "on therapy", 40, None, False, None),
]

NORMAL_LABS = {"anc": Decimal("2900"), "hemoglobin": Decimal("11.4"), "platelets": Decimal("210000"),
               "bilirubin": Decimal("0.7"), "ast": Decimal("25"), "alt": Decimal("21"), "creatinine": Decimal("0.80")}


def _coordinator(site: Site):
    membership = (Membership.objects.filter(site=site, role=Membership.Role.COORDINATOR, active=True)
                  .select_related("user").order_by("user__username").first())
    return membership.user if membership else None


def _plans(today: dt.date) -> int:
    manager = User.objects.filter(username="dm").first()
    created = 0
    for subtype, (regimen, courses, days) in DEMO_PLANS.items():
        if TherapyPlan.objects.filter(subtype=subtype).exists():
            continue
        services.save_therapy_plan(subtype=subtype, regimen=regimen, regimen_ja=DEMO_PLANS_JA[subtype],
                                   planned_courses=courses, cycle_length_days=days,
                                   effective_from=min(dt.date(2025, 1, 1), today - dt.timedelta(days=365)),
                                   user=manager, reason="Demo therapy plan")
        created += 1
    return created


def _patient(site, user, password, today, spec) -> None:
    _site, marker, subtype, _what, primary_days, evaluation, secondary, off_study = spec
    registered_on = today - dt.timedelta(days=primary_days)
    data, lesions, labs = eligible_facts(registered_on, **RECEPTORS[subtype])
    birth_date = dt.date(1958 + primary_days % 17, 1 + primary_days % 12, 10)
    # Each step is written as on its own day (core demo clock): times of signatures and history rows match
    # the dates they record.
    with clock(registered_on, hour=9):
        patient = screening_services.create_patient(site=site, sex="female", birth_date=birth_date,
                                                    initials=marker, user=user)
        screening = screening_services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs,
                                                      user=user)
    with clock(registered_on, hour=14):
        services.register_primary(screening=screening, user=user, password=password,
                                                 registration_date=registered_on)
    if evaluation is not None:
        evaluation_days, lab_days, response, remaining = evaluation
        with clock(today - dt.timedelta(days=min(evaluation_days, lab_days)), hour=16):  # once both are known
            # The courses (S1) are recorded by the follow-up app's demo, which runs after this one (this app
            # cannot write them: followup is above registration): the few-courses warning is confirmed here.
            services.record_evaluation(
                patient=patient,
                data={"date": today - dt.timedelta(days=evaluation_days), "overall_response": response,
                      "progression": False, "new_distant_metastasis": False, "remaining_lesions": remaining,
                      "mdt_since_primary": False, "ecog": 0},
                labs={"date": today - dt.timedelta(days=lab_days), **NORMAL_LABS}, user=user, confirmed=True)
    # `secondary`: registered (and randomized) today by followup.demo once the courses are recorded (S1).
    if off_study is not None:
        days, reason = off_study
        with clock(today - dt.timedelta(days=days), hour=11):
            services.take_off_study(patient=patient, user=user, date=today - dt.timedelta(days=days), reason=reason,
                                    details="Demo: consent withdrawn at the patient's request.")


@transaction.atomic
def seed(*, stdout) -> None:
    today = timezone.localdate()
    plans = _plans(today)
    password, _generated = demo_password()
    created = 0
    for spec in DEMO_PATIENTS:
        site = Site.objects.filter(code=spec[0]).first()
        user = site and _coordinator(site)
        if user is None or Patient.objects.filter(site=site, initials=spec[1]).exists():
            continue
        _patient(site, user, password, today, spec)
        created += 1
    if plans or created:
        stdout.write(f"Registration demo: {plans} therapy plans, {created} patients created.")
    else:
        stdout.write("Registration demo: already there, nothing created.")
