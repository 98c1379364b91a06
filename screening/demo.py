"""Demo screening data: at each demo site, patients who are eligible, screen failures for varied
reasons, a draft with facts still missing, and (at one site) a re-screened patient.

Written through the services with the site's coordinator as the audit user, dates relative to today
(`timezone.localdate()`) so the demo always looks current. Idempotent: the n-th demo patient of a site
is the site's patient with sequence n; an existing one is left alone, so a second run creates nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oligami_site.demo import DEMO_SITES
from oligami_site.models import Membership, Site, User

from . import consents, services
from .models import Patient


def _years_before(day: dt.date, years: int, days: int = 0) -> dt.date:
    try:
        return day.replace(year=day.year - years) - dt.timedelta(days=days)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28) - dt.timedelta(days=days)


BONE_CLEAN = {"three_consecutive_vertebrae": False, "bilsky_grade": "0", "femoral_head_neck_trochanter": False,
              "cortical_defect_over_one_third": False, "uncontrolled_pain": False}


def eligible_facts(screening_date: dt.date, *, er="positive", pgr="positive", her2="negative"):
    """(data, lesions, labs) of an eligible screening judged on `screening_date` (the luminal worked
    case p_base_luminal.json, its dates moved to end on `screening_date`)."""
    d = screening_date
    data = {
        "screening_date": d,
        "invasive_carcinoma": True, "metastasis_biopsied": False, "er": er, "pgr": pgr, "her2": her2,
        "presentation_history": "none", "breast_tumour": "invasive", "bilateral": False, "side": None,
        "invasive_proven_by_metastasis_biopsy": False, "diagnosed_as_recurrence": False,
        "ct_date": d - dt.timedelta(days=12), "pet_date": d - dt.timedelta(days=10),
        "brain_mri_date": d - dt.timedelta(days=11),
        "other_distant_metastasis": False, "ecog": 0, "prior_metastasis_treatment": False,
        "radical_primary_surgery_since_metastasis_diagnosis": False, "other_cancer_therapy_within_5_years": False,
        "lvef_percent": Decimal("64"), "consent_date": d - dt.timedelta(days=10),
        # P18: the patient signed the version in force that day (demo_consent_versions).
        "consent_version": consents.version_on(d - dt.timedelta(days=10)),
        **{f"e{i}": False for i in range(1, 14)},
    }
    lesions = [
        {"organ": "bone", "diameter_mm": Decimal("18"), "mdt_feasible": True, "symptomatic": False, **BONE_CLEAN},
        {"organ": "lung", "diameter_mm": Decimal("12"), "mdt_feasible": True, "symptomatic": False},
    ]
    labs = {"date": d - dt.timedelta(days=6), "anc": Decimal("3200"), "hemoglobin": Decimal("12.1"),
            "platelets": Decimal("230000"), "bilirubin": Decimal("0.6"), "ast": Decimal("22"), "alt": Decimal("18"),
            "creatinine": Decimal("0.70")}
    return data, lesions, labs


# Screen failures, each a change to the eligible facts: (what it shows, change(data, lesions, labs, birth)).
def _four_lesions(data, lesions, labs):  # P5: a fourth oligometastasis
    lesions += [{"organ": "liver", "diameter_mm": Decimal("21"), "mdt_feasible": True, "symptomatic": False},
                {"organ": "lymph_node", "diameter_mm": Decimal("9"), "mdt_feasible": True, "symptomatic": False}]


def _labs(data, lesions, labs):  # P16: neutrophils and platelets too low
    labs.update(anc=Decimal("1200"), platelets=Decimal("85000"))


def _e7(data, lesions, labs):  # E7: myocardial infarction within 6 months
    data["e7"] = True


def _bone(data, lesions, labs):  # P8: Bilsky 1c spinal canal extension
    lesions[0]["bilsky_grade"] = "1c"


FAILURES = [("P5", _four_lesions), ("P16", _labs), ("E7", _e7), ("P9", None), ("P8", _bone)]


def _plan(site_index: int, today: dt.date):
    """The demo patients of one site: (sex, birth date, (data, lesions, labs))."""
    born = _years_before(today, 54, 40 + 30 * site_index)
    plan = []
    # Two eligible: luminal, and HER2-positive or triple-negative in turn.
    plan.append(("female", born, eligible_facts(today - dt.timedelta(days=3 + site_index))))
    receptors = {"her2": "positive"} if site_index % 2 == 0 else {"er": "negative", "pgr": "negative"}
    plan.append(("female", _years_before(today, 47, 90), eligible_facts(today - dt.timedelta(days=8), **receptors)))
    # Two screen failures, the reasons rotating over the sites so every reason appears.
    for k in range(2):
        reason, change = FAILURES[(2 * site_index + k) % len(FAILURES)]
        facts = eligible_facts(today - dt.timedelta(days=15 + 7 * k))
        birth = born
        if change is None:  # P9: 81 years old on the screening date
            birth = _years_before(facts[0]["screening_date"], 81, 30)
        else:
            change(*facts)
        plan.append(("female", birth, facts))
    # A draft: labs not drawn yet, exclusions E8-E13 not yet checked.
    data, lesions, _labs_ = eligible_facts(today - dt.timedelta(days=1))
    data.update({f"e{i}": None for i in range(8, 14)})
    plan.append(("female", _years_before(today, 61, 12), (data, lesions, None)))
    # A male patient (the listing accepts all sexes), eligible.
    if site_index == 4:
        plan.append(("male", _years_before(today, 66, 5), eligible_facts(today - dt.timedelta(days=5))))
    return plan


# The demo's consent document versions (issue 17): 1.0 from before the first demo patient, and 2.0, in
# force for the last 45 days, so that patients registered earlier on 1.0 must re-consent (followup.demo
# records the re-consent of all of them but one, who stays on the worklist).
DEMO_V2_DAYS = 45


def demo_consent_versions(today: dt.date) -> None:
    manager = User.objects.filter(username="dm").first()
    if manager is None or consents.versions():
        return
    consents.add_version(version="1.0", effective_date=min(dt.date(2024, 1, 1), today - dt.timedelta(days=1000)),
                         user=manager, reason="Demo: the first consent document")
    consents.add_version(version="2.0", effective_date=today - dt.timedelta(days=DEMO_V2_DAYS), user=manager,
                         reason="Demo: consent document revised (new safety information)")


def _coordinator(site: Site):
    membership = (Membership.objects.filter(site=site, role=Membership.Role.COORDINATOR, active=True)
                  .select_related("user").order_by("user__username").first())
    return membership.user if membership else None


@transaction.atomic
def seed(*, stdout) -> None:
    today = timezone.localdate()
    demo_consent_versions(today)
    created = 0
    for site_index, (code, *_names) in enumerate(DEMO_SITES):
        site = Site.objects.filter(code=code).first()
        user = site and _coordinator(site)
        if user is None:
            continue
        for sequence, (sex, birth_date, facts) in enumerate(_plan(site_index, today), start=1):
            if Patient.objects.filter(site=site, sequence=sequence).exists():
                continue
            patient = services.create_patient(site=site, sex=sex, birth_date=birth_date, initials="", user=user)
            data, lesions, labs = facts
            services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user)
            created += 1
        # TMDU: one patient failed on labs, then re-screened with new labs and now eligible.
        if site_index == 0:
            created += _rescreened(site, user, today, sequence=len(_plan(site_index, today)) + 1)
    stdout.write(f"Screening demo: {created} patients created." if created else
                 "Screening demo: already there, nothing created.")


def _rescreened(site, user, today, *, sequence) -> int:
    if Patient.objects.filter(site=site, sequence=sequence).exists():
        return 0
    patient = services.create_patient(site=site, sex="female", birth_date=_years_before(today, 58, 200),
                                      initials="", user=user)
    data, lesions, labs = eligible_facts(today - dt.timedelta(days=30))
    labs.update(hemoglobin=Decimal("8.4"))  # P16: haemoglobin below 9.0 g/dL
    services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user)
    screening = services.start_rescreening(patient=patient, user=user, reason="Anaemia corrected; labs redrawn",
                                           screening_date=today - dt.timedelta(days=2))
    data, lesions, labs = eligible_facts(today - dt.timedelta(days=2))
    services.save_screening(patient=patient, screening=screening, data=data, lesions=lesions, labs=labs, user=user)
    return 1
