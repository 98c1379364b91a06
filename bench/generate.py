"""Bench data: N patients over S sites in every status, with their audit history, into the bench database.

Usage: .venv/bin/python bench/generate.py --patients 10000 [--sites 50] [--seed 2110]
       .venv/bin/python bench/generate.py --ready 60        # a pool of patients ready to randomize

Runs against the bench database only (bench/common.py: `oligami_bench`, created and migrated by
bench/run.py). `--patients` is the TOTAL wanted: a second run with a larger number appends (site
shares stay the same), so one database goes 1,000 -> 10,000 -> 100,000.

What is written, per patient, with dates relative to today (timezone.localdate()):
- statuses: screening drafts, screen failures (the demo's P5/P16/E7/P9/P8 reasons), eligible, on
  therapy, evaluation due, window open, window closing, window missed, randomized, off study; about one
  in ten re-screened (a first screening failed on P16 labs);
- the screening facts of the worked case (screening.demo.eligible_facts) with 2-4 lesions and a lab
  panel, the engine's verdict snapshot; primary registration with its signature and plan; response
  evaluation with its labs; secondary registration with its signature and verdict; off study;
- allocations chained exactly like randomization.services.randomize does (counts before allocation
  from the earlier allocations, minimization with p and a recorded u, SHA-256 chain), so
  `manage.py verify_allocations` replays them;
- a simple-history row for every object ("+") and one per stage change of the patient ("~"), with the
  site coordinator as history user, the date of the event and the reason the services would give.

bulk_create is used here on purpose (bench data only; the application never does): the historical
rows are inserted in bulk alongside, so no object is without its audit row. Sites, users, therapy plans
and the randomization set-up go through the services where the services exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import random
import time
from collections import Counter, defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from common import PASSWORD, emit, setup_django

setup_django()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from followup.models import SystemicCourse  # noqa: E402
from oligami_site.access import TrialRole  # noqa: E402
from oligami_site.models import Counter as NumberCounter  # noqa: E402
from oligami_site.models import Membership, Signature, Site, User  # noqa: E402
from randomization import allocation, ledger  # noqa: E402
from randomization import factors as fx  # noqa: E402
from randomization import services as randomization_services  # noqa: E402
from randomization.models import Allocation, Method, RandomizationConfig  # noqa: E402
from registration import courses as registration_courses  # noqa: E402
from registration import services as registration_services  # noqa: E402
from registration.demo import DEMO_PLANS, NORMAL_LABS, RECEPTORS  # noqa: E402
from registration.models import (  # noqa: E402
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)
from screening import consents, verdicts  # noqa: E402
from screening import demo as screening_demo  # noqa: E402
from screening import eligibility as rules  # noqa: E402
from screening.demo import FAILURES, eligible_facts  # noqa: E402
from screening.models import ConsentDocument, LabPanel, Lesion, Patient, Screening  # noqa: E402

TOKYO = ZoneInfo("Asia/Tokyo")
BATCH = 2000
CHUNK = 5000  # patients per transaction
SITE_EXPONENT = 0.5  # site k gets a share proportional to 1/k**0.5: one busy site, a long tail
# Share of each status among the generated patients (sums to 1).
KINDS = {
    "draft": 0.08, "screen_failed": 0.24, "eligible": 0.06, "on_therapy": 0.10, "evaluation_due": 0.04,
    "window_open": 0.05, "window_closing": 0.03, "window_missed": 0.03, "randomized": 0.30, "off_study": 0.07,
}
REGISTERED_KINDS = {"on_therapy", "evaluation_due", "window_open", "window_closing", "window_missed", "randomized",
                    "off_study", "ready"}
SUBTYPES = (("luminal", 0.6), ("her2", 0.2), ("tnbc", 0.2))
AGES = (38, 45, 51, 57, 62, 66, 70, 74)
RESCREEN_SHARE = 0.10
FAILURE_TEMPLATES = dict(FAILURES)
CONSENT_V2_DAYS = 180  # version 2.0 of the consent document took effect this many days ago


def _primary_lesion_count(primary):
    """S2 compares the remaining lesions with those of the registration's screening: registration.services reads
    them from the database (one query); the chunk's lesions are not inserted yet, so count them in memory."""
    return primary.screening._lesion_count


registration_services.primary_lesion_count = _primary_lesion_count


def cache_consent_versions():
    """screening.demo.eligible_facts asks consents.version_on per screening (one query each): answer from the
    versions read once (the same rule: the latest version effective on the day, if still in force)."""
    documents = sorted(ConsentDocument.objects.all(), key=lambda d: d.effective_date)

    def version_on(day):
        found = None
        for document in documents:
            if document.effective_date <= day:
                found = document
        return found if found is not None and rules.in_force(found.to_facts(), day) else None

    screening_demo.consents = type("CachedConsents", (), {"version_on": staticmethod(version_on)})


def site_code(i: int) -> str:
    return f"ST{i:02d}"


def site_targets(total: int, sites: int) -> list[int]:
    """Patients per site for `total` (largest remainder), the same shares for every total."""
    weights = [1 / (k + 1) ** SITE_EXPONENT for k in range(sites)]
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [math.floor(r) for r in raw]
    for k in sorted(range(sites), key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts)]:
        counts[k] += 1
    return counts


def at(day: dt.date, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=TOKYO)


def years_before(day: dt.date, years: int, days: int = 0) -> dt.date:
    try:
        return day.replace(year=day.year - years) - dt.timedelta(days=days)
    except ValueError:
        return day.replace(year=day.year - years, day=28) - dt.timedelta(days=days)


_HISTORY = {}


def history_model(model):
    if model not in _HISTORY:  # the manager descriptor builds a class on every access: look it up once
        _HISTORY[model] = (model.history.model, [f.attname for f in model.history.model.tracked_fields])
    return _HISTORY[model]


def hist(obj, when, user_id, reason, kind="+", **overrides):
    """The simple-history row the services' save() would have written for `obj`."""
    model, attnames = history_model(type(obj))
    values = {name: getattr(obj, name) for name in attnames}
    values.update(overrides)
    return model(history_date=when, history_user_id=user_id, history_change_reason=str(reason)[:100],
                 history_type=kind, **values)


def bulk(model, objs):
    """Insert `objs` with COPY (ids drawn from the table's sequence first, so children can point at them).

    COPY rather than bulk_create: the same rows, written 3-4x faster (Django's bulk INSERT compiles every
    value in Python and, on PostgreSQL, sends JSON inside text arrays that psycopg escapes one quote at
    a time). Values go through each field's get_db_prep_save, as a save() would.
    """
    if not objs:
        return objs
    meta = model._meta
    fields = list(meta.concrete_fields)
    connection = connections["default"]
    with connection.cursor() as cursor:
        pk = meta.pk
        if pk.get_internal_type() in ("AutoField", "BigAutoField") and objs[0].pk is None:
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{meta.db_table}', '{pk.column}')) "  # noqa: S608
                           "FROM generate_series(1, %s)", [len(objs)])  # (names from the model's meta, not input)
            for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, pk.attname, new_id)
        relations = [f for f in fields if f.is_relation]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        json_text = {}  # id(value) -> JSON text: a verdict snapshot is shared by many rows, encode it once

        def prep(f, value):
            if f.get_internal_type() == "JSONField" and value is not None:
                key = id(value)
                if key not in json_text:
                    json_text[key] = (json.dumps(value, cls=f.encoder), value)  # keep value alive: ids stay unique
                return json_text[key][0]
            return f.get_db_prep_save(value, connection)

        with cursor.cursor.copy(f'COPY "{meta.db_table}" ({columns}) FROM STDIN') as copy:
            for obj in objs:
                for f in relations:  # parents were inserted first: take their ids (as save() does)
                    related = f.get_cached_value(obj, None)
                    if related is not None and getattr(obj, f.attname) is None:
                        setattr(obj, f.attname, related.pk)
                copy.write_row([prep(f, getattr(obj, f.attname)) for f in fields])
    for obj in objs:
        obj._state.adding = False
    return objs


def bulk_with_history(objs, user_of, when_of, reason_of):
    """Insert `objs` and their "+" history rows (one model per call)."""
    if not objs:
        return objs
    model = type(objs[0])
    bulk(model, objs)
    bulk(history_model(model)[0], [hist(o, when_of(o), user_of(o), reason_of(o)) for o in objs])
    return objs


TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret, hex: bench users only


def _totp_device_model():
    """django-otp's TOTP device when the project uses it (two-factor login), else None."""
    from django.apps import apps

    return apps.get_model("otp_totp", "TOTPDevice") if apps.is_installed("django_otp.plugins.otp_totp") else None


# --- set-up: sites, users, plans, randomization ----------------------------------------------------


def ensure_setup(sites: int, today: dt.date):
    """Sites, staff (coordinator + investigator per site), a data manager, a statistician, plans, config."""
    encoded = make_password(PASSWORD)  # one hash for every bench user: set_password per user is slow
    system_time = at(today - dt.timedelta(days=1200), 9)
    existing = set(Site.objects.values_list("code", flat=True))
    manager = User.objects.filter(username="bench_dm").first()
    if manager is None:
        manager = User.objects.create(username="bench_dm", first_name="Bench", last_name="Manager", email="dm@x.test",
                                      is_staff=True, preferred_language="en", password=encoded)
        manager.groups.add(Group.objects.get(name=TrialRole.DATA_MANAGER))
        stat = User.objects.create(username="bench_stat", first_name="Bench", last_name="Statistician",
                                   email="stat@x.test", is_staff=True, preferred_language="en", password=encoded)
        stat.groups.add(Group.objects.get(name=TrialRole.STATISTICIAN))
    for username in ("bench_dm", "bench_stat"):
        # Trial-wide roles must log in with a second factor (oligami_site.two_factor): a confirmed TOTP
        # device whose key the bench knows (bench_pages.py computes the codes, as an authenticator app does).
        device_model = _totp_device_model()
        if device_model is not None and not device_model.objects.filter(user__username=username).exists():
            device_model.objects.create(user=User.objects.get(username=username), name="Bench authenticator",
                                        confirmed=True, key=TOTP_KEY)
    # Open to accrual with the approval record on file (oligami_site.sites), as every site with patients is.
    opened = today - dt.timedelta(days=1200)
    new_sites = [Site(code=site_code(i), name_en=f"Bench Hospital {i}", name_ja=f"ベンチ病院{i}",
                      status=Site.Status.OPEN, ethics_approval_date=opened - dt.timedelta(days=60),
                      approved_protocol_version="1.0", head_permission_date=opened - dt.timedelta(days=30),
                      start_date=opened)
                 for i in range(1, sites + 1) if site_code(i) not in existing]
    with transaction.atomic():
        bulk_with_history(new_sites, lambda s: manager.pk, lambda s: system_time, lambda s: "Site added")
        users, members = [], []
        for site in new_sites:
            for prefix, role in (("crc", Membership.Role.COORDINATOR), ("pi", Membership.Role.INVESTIGATOR)):
                user = User(username=f"{prefix}_{site.code.lower()}", first_name=prefix.upper(),
                            last_name=site.code, email=f"{prefix}.{site.code.lower()}@x.test",
                            preferred_language="en", password=encoded)
                users.append(user)
                members.append(Membership(user=user, site=site, role=role))
        bulk(User, users)
        for m in members:
            m.user_id = m.user.pk
        bulk_with_history(members, lambda m: manager.pk, lambda m: system_time, lambda m: "Membership added")
    if not ConsentDocument.objects.exists():
        # P18 needs the version in force on the consent date (issue 17): 1.0 from before the first bench patient,
        # 2.0 since CONSENT_V2_DAYS, so that patients still on study who consented on 1.0 must re-consent
        # (generate_followup records the re-consent of most of them).
        consents.add_version(version="1.0", effective_date=today - dt.timedelta(days=4000), user=manager,
                             reason="Bench: the first consent document")
        consents.add_version(version="2.0", effective_date=today - dt.timedelta(days=CONSENT_V2_DAYS), user=manager,
                             reason="Bench: consent document revised")
    if not TherapyPlan.objects.exists():
        for subtype, (regimen, courses, days) in DEMO_PLANS.items():
            registration_services.save_therapy_plan(
                subtype=subtype, regimen=regimen, planned_courses=courses, cycle_length_days=days,
                effective_from=today - dt.timedelta(days=2000), user=manager, reason="Bench therapy plan")
    if not RandomizationConfig.objects.filter(active=True).exists():
        stat = User.objects.get(username="bench_stat")
        randomization_services.create_config(user=stat, reason="Bench set-up", method=Method.MINIMIZATION,
                                             factors=list(fx.DEFAULT_FACTORS),
                                             weights=dict.fromkeys(fx.DEFAULT_FACTORS, 1), p=0.8, block_sizes=[4, 6])


# --- one patient --------------------------------------------------------------------------------


class Gen:
    """Builds unsaved objects chunk by chunk, then inserts them model by model (parents first)."""

    def __init__(self, today, rng, coordinators, plans):
        self.today = today
        self.rng = rng
        self.coordinators = coordinators  # site id -> coordinator user
        self.plans = plans  # subtype -> TherapyPlan
        self.verdict_cache = {}
        self.reset()

    def reset(self):
        self.patients, self.panels, self.screenings, self.lesions = [], [], [], []
        self.primaries, self.signatures, self.evaluations, self.secondaries, self.off_studies = [], [], [], [], []
        self.courses = []  # systemic therapy courses from primary registration on (S1 reads them, issue 16)
        self.patient_history = []  # (patient, when, reason, stage) for "~" rows
        self.randomized = []  # light tuples for the allocation phase
        self.later = []  # callables run after the parents have ids

    def days_ago(self, low, high):
        return self.today - dt.timedelta(days=self.rng.randint(low, high))

    def patient(self, site, sequence, kind):
        rng = self.rng
        user = self.coordinators[site.pk]
        subtype = rng.choices([s for s, _w in SUBTYPES], [w for _s, w in SUBTYPES])[0]
        p_date = e_date = s_date = off = None
        if kind == "draft":
            d = self.days_ago(0, 400)
        elif kind == "screen_failed":
            d = self.days_ago(1, 1100)
        elif kind == "eligible":
            d = self.days_ago(0, 7)
        else:
            if kind == "on_therapy":
                p_date = self.days_ago(5, 75)
            elif kind == "evaluation_due":
                p_date = self.days_ago(85, 110)
            elif kind == "window_open":
                p_date, e_date = self.days_ago(86, 105), self.days_ago(0, 2)
            elif kind == "window_closing":
                p_date, e_date = self.days_ago(120, 124), self.days_ago(10, 20)
            elif kind == "window_missed":
                p_date = self.days_ago(130, 400)
                e_date = p_date + dt.timedelta(days=85)
            elif kind in ("randomized", "ready"):
                if kind == "ready":
                    p_date, e_date, s_date = self.days_ago(90, 110), self.days_ago(0, 3), self.today
                else:
                    p_date = self.days_ago(130, 1100)
                    e_date = p_date + dt.timedelta(days=rng.randint(80, 88))
                    # S8: the evaluation labs (e - 2) must be at most 14 days old at secondary registration
                    s_date = max(p_date + dt.timedelta(days=84), e_date) + dt.timedelta(days=rng.randint(0, 8))
            elif kind == "off_study":
                p_date = self.days_ago(20, 600)
                off = p_date + dt.timedelta(days=rng.randint(10, min(120, (self.today - p_date).days)))
                if (off - p_date).days > 85 and rng.random() < 0.5:
                    e_date = p_date + dt.timedelta(days=84)
            d = p_date
        age = rng.choice(AGES)
        failure = None
        if kind == "screen_failed":
            failure = rng.choice(list(FAILURE_TEMPLATES))
            if failure == "P9":
                age = 81
        birth = years_before(d, age, 40)
        sex = "male" if rng.random() < 0.01 else "female"
        created = at(d - dt.timedelta(days=1), 9)
        p = Patient(site=site, sequence=sequence, screening_number=f"{site.code}-S{sequence:04d}", sex=sex,
                    birth_date=birth, initials="", stage=Patient.Stage.SCREENING, created_at=created)
        self.patients.append(p)
        p._h = [(created, "Patient created", Patient.Stage.SCREENING)]
        rescreened = kind not in ("draft",) and rng.random() < RESCREEN_SHARE
        number = 1
        if rescreened:
            first = self.screening(p, user, number, d - dt.timedelta(days=30), subtype, "P16", rng, age)
            p._h.append((first.created_at, "Screening entered", Patient.Stage.SCREEN_FAILED))
            number += 1
        screening = self.screening(p, user, number, d, subtype, failure, rng, age, draft=kind == "draft")
        stage = {Screening.Outcome.DRAFT: Patient.Stage.SCREENING, Screening.Outcome.ELIGIBLE: Patient.Stage.ELIGIBLE,
                 Screening.Outcome.NOT_ELIGIBLE: Patient.Stage.SCREEN_FAILED}[screening.outcome]
        reason = f"Re-screening (screening {number})" if number > 1 else "Screening entered"
        p._h.append((screening.evaluated_at or at(d, 9, 30), reason, stage))
        p.stage = stage
        if kind not in REGISTERED_KINDS:
            return
        if screening.outcome != Screening.Outcome.ELIGIBLE:
            raise RuntimeError(f"generated screening not eligible for {kind}: {screening.verdict.get('failed')}")
        primary = self.primary(p, screening, user, p_date)
        # The courses of the plan from primary registration on, each started by the evaluation (or today, or
        # the day off study), as the site records them (followup.services.record_course).
        last_start = {"on_therapy": self.today, "evaluation_due": self.today, "off_study": off}.get(kind, e_date)
        self.plan_courses(p, primary, user, last_start, off)
        if e_date is not None:
            evaluation = self.evaluation(p, primary, user, e_date, kind)
        if kind in ("randomized", "ready"):
            # "ready": secondary registered, stage still registered, as inside register_secondary's transaction
            # just before it calls randomize (bench_randomize randomizes them); there is no stage in between.
            secondary = self.secondary(p, primary, evaluation, user, s_date)
            if kind == "randomized":
                lesions = "1" if evaluation.remaining_lesions <= 1 else "2-3"
                self.randomized.append((p, site.code, primary.subtype, lesions, s_date, user, secondary.signature))
                p.stage = Patient.Stage.RANDOMIZED  # its "~" row is written with the allocation number
        if kind == "off_study":
            reason_code = rng.choice([OffStudy.Reason.WITHDRAWAL, OffStudy.Reason.DEATH, OffStudy.Reason.PROGRESSION,
                                      OffStudy.Reason.OTHER])
            details = "Bench: moved to another hospital." if reason_code == OffStudy.Reason.OTHER else ""
            record = OffStudy(patient=p, date=off, reason=reason_code, details=details, created_at=at(off, 15))
            record._u = user
            self.off_studies.append(record)
            p.stage = Patient.Stage.OFF_STUDY
            p._h.append((record.created_at, f"Off study: {reason_code}", p.stage))

    def screening(self, p, user, number, d, subtype, failure, rng, age, draft=False):
        data, lesions, labs = eligible_facts(d, **RECEPTORS[subtype])
        extra = rng.randint(0, 1)
        if extra:
            lesions.append({"organ": "lymph_node", "diameter_mm": Decimal("11"), "mdt_feasible": True,
                            "symptomatic": False})
        if failure not in (None, "P9"):
            FAILURE_TEMPLATES[failure](data, lesions, labs)
        if failure == "P16" and number == 1:
            labs.update(hemoglobin=Decimal("8.4"))
        if draft:
            labs = None
            data.update({f"e{i}": None for i in range(8, 14)})
        panel = None
        if labs is not None:
            panel = LabPanel(patient=p, **labs)
            panel._u, panel._when = user, at(d, 9, 20)
            self.panels.append(panel)
        evaluated = at(d, 9, 30)
        s = Screening(patient=p, number=number, labs=panel, created_at=at(d, 9, 10), **data)
        s._u = user
        lesion_objs = [Lesion(screening=s, position=i + 1, **values) for i, values in enumerate(lesions)]
        for lesion in lesion_objs:
            lesion._u, lesion._when = user, at(d, 9, 15)
        key = (failure, draft, subtype, d, age, p.sex, extra, number)
        cached = self.verdict_cache.get(key)
        if cached is None:
            # The engine on the stored facts (labs as the unsaved panel's values; lesions given).
            facts = s.to_primary_facts(lesions=lesion_objs)
            if panel is not None:
                facts = dataclasses.replace(facts, labs=panel.to_facts())
            verdict = rules.evaluate(facts)
            outcome = (Screening.Outcome.DRAFT if verdict.missing else Screening.Outcome.ELIGIBLE if verdict.eligible
                       else Screening.Outcome.NOT_ELIGIBLE)
            cached = (verdicts.snapshot(verdict, evaluated), verdict.engine_version, verdict.subtype, outcome)
            self.verdict_cache[key] = cached
        s.verdict, s.engine_version, s.subtype, s.outcome = cached
        s.evaluated_at = evaluated
        s._lesion_count = len(lesion_objs)
        self.screenings.append(s)
        self.lesions.extend(lesion_objs)
        return s

    def signature(self, user, kind, meaning, subject, when):
        sig = Signature(user=user, printed_name=user.printed_name, signed_at=when, meaning=meaning, kind=kind,
                        subject=subject)
        sig._u = user
        self.signatures.append(sig)
        return sig

    def primary(self, p, screening, user, p_date):
        plan = self.plans[screening.subtype]
        self.sequence += 1
        number = registration_services.registration_number(self.sequence)
        when = at(p_date, 10)
        sig = self.signature(user, registration_services.PRIMARY_KIND, registration_services.PRIMARY_MEANING,
                             f"{number} / {p.screening_number}", when)
        reg = PrimaryRegistration(patient=p, screening=screening, sequence=self.sequence, number=number,
                                  registration_date=p_date, verdict=screening.verdict,
                                  engine_version=screening.engine_version, subtype=screening.subtype, plan=plan,
                                  signature=sig, created_at=when)
        reg._u = user
        self.primaries.append(reg)
        p._h.append((when, f"Primary registration {number}", Patient.Stage.REGISTERED))
        p.stage = Patient.Stage.REGISTERED
        return reg

    def plan_courses(self, p, primary, user, last_start, off):
        plan = primary.plan
        start, primary._courses = primary.registration_date, []
        for number in range(1, plan.planned_courses + 1):
            if start > last_start:
                break
            end = start + dt.timedelta(days=plan.cycle_length_days - 1)
            stopped = off is not None and end >= off
            if stopped:
                end = off
            course = SystemicCourse(patient=p, plan=plan, number=number, start_date=start,
                                    end_date=end if end < self.today else None, dose_modified=number == 3,
                                    stopped_early=stopped, stopped_early_reason="Off study" if stopped else "",
                                    created_at=at(start, 16))
            course._u = user
            primary._courses.append(course)
            if stopped:
                break
            start = end + dt.timedelta(days=1)
        self.courses.extend(primary._courses)

    def evaluation(self, p, primary, user, e_date, kind):
        panel = LabPanel(patient=p, date=e_date - dt.timedelta(days=2), **NORMAL_LABS)
        panel._u, panel._when = user, at(e_date, 11)
        self.panels.append(panel)
        # S5: a complete response leaves no oligometastasis to treat, so the randomized were PR or SD.
        response = self.rng.choice(["PR", "PR", "SD", "SD"] if kind in ("randomized", "ready") else
                                   ["PR", "PR", "SD", "SD", "CR"])
        ev = ResponseEvaluation(patient=p, date=e_date, overall_response=response, progression=False,
                                new_distant_metastasis=False,
                                remaining_lesions=self.rng.randint(1, min(3, primary.screening._lesion_count)),
                                mdt_since_primary=False, ecog=0,
                                labs=panel, created_at=at(e_date, 11))
        ev._u = user
        self.evaluations.append(ev)
        return ev

    def secondary(self, p, primary, evaluation, user, s_date):
        when = at(s_date, 14)
        # S1 reads the recorded courses (issue 16): the course rows of this chunk are not inserted yet, so the
        # checklist is given them as registration.courses would read them (started up to the registration date).
        given = tuple(registration_courses.Course(number=c.number, plan_id=c.plan_id, regimen=primary.plan.regimen,
                                                  start_date=c.start_date, end_date=c.end_date,
                                                  stopped_early=c.stopped_early)
                      for c in primary._courses if c.start_date <= s_date)
        verdict = registration_services.secondary_checklist(
            primary, evaluation, s_date, registration_courses.CoursesGiven(until=s_date, courses=given))
        if not verdict.eligible:
            raise RuntimeError(f"generated secondary registration not eligible: {verdict.to_dict().get('failed')}")
        sig = self.signature(user, registration_services.SECONDARY_KIND, registration_services.SECONDARY_MEANING,
                             f"{primary.number} / {p.screening_number}", when)
        sec = SecondaryRegistration(patient=p, primary=primary, registration_date=s_date, evaluation=evaluation,
                                    verdict=verdicts.snapshot(verdict, when), engine_version=verdict.engine_version,
                                    signature=sig, created_at=when)
        sec._u = user
        self.secondaries.append(sec)
        return sec

    def flush(self):
        """Insert the chunk, parents first, each model with its history rows."""
        def fix(objs, *names):
            for o in objs:
                for name in names:
                    setattr(o, f"{name}_id", getattr(o, name).pk if getattr(o, name) is not None else None)

        uid = {s: self.coordinators[s].pk for s in self.coordinators}
        bulk(Patient, self.patients)
        rows = []
        for p in self.patients:
            first = True
            for when, reason, stage in p._h:
                rows.append(hist(p, when, uid[p.site_id], reason, "+" if first else "~", stage=stage))
                first = False
        fix(self.panels, "patient")
        bulk_with_history(self.panels, lambda o: o._u.pk, lambda o: o._when, lambda o: "Laboratory values")
        fix(self.screenings, "patient", "labs")
        bulk_with_history(self.screenings, lambda o: o._u.pk, lambda o: o.created_at, lambda o: "Screening entered")
        fix(self.lesions, "screening")
        bulk_with_history(self.lesions, lambda o: o._u.pk, lambda o: o._when, lambda o: "Screening entered")
        bulk_with_history(self.signatures, lambda o: o._u.pk, lambda o: o.signed_at,
                          lambda o: f"Signed: {o.meaning}")
        fix(self.primaries, "patient", "screening", "signature")
        bulk_with_history(self.primaries, lambda o: o._u.pk, lambda o: o.created_at,
                          lambda o: f"Primary registration {o.number}")
        fix(self.courses, "patient")
        bulk_with_history(self.courses, lambda o: o._u.pk, lambda o: o.created_at, lambda o: "Course recorded")
        fix(self.evaluations, "patient", "labs")
        bulk_with_history(self.evaluations, lambda o: o._u.pk, lambda o: o.created_at,
                          lambda o: "Response evaluation recorded")
        fix(self.secondaries, "patient", "primary", "evaluation", "signature")
        bulk_with_history(self.secondaries, lambda o: o._u.pk, lambda o: o.created_at,
                          lambda o: "Secondary registration")
        fix(self.off_studies, "patient")
        bulk_with_history(self.off_studies, lambda o: o._u.pk, lambda o: o.created_at,
                          lambda o: f"Off study: {o.reason}")
        bulk(history_model(Patient)[0], rows)
        counts = Counter(p.stage for p in self.patients)
        randomized = self.randomized
        self.reset()
        return counts, randomized


def chain_allocations(randomized, config):
    """Allocations for (patient, site code, subtype, lesions, date, user, signature), in date order, as randomize
    does (the allocation points at the secondary registration's signature row)."""
    tallies = defaultdict(lambda: {allocation.ARM_A: 0, allocation.ARM_B: 0})
    for factors, arm in Allocation.objects.values_list("factors", "arm"):
        for key, level in factors.items():
            tallies[(key, level)][arm] += 1
    last = Allocation.objects.order_by("-sequence").values("sequence", "hash").first()
    sequence, prev_hash = (last["sequence"], last["hash"]) if last else (0, ledger.GENESIS_HASH)
    rng = random.Random(sequence + 7)
    keys = fx.ordered(config.factors)
    records, patient_rows = [], []
    randomized.sort(key=lambda r: (r[4], r[0].pk))
    for i, (patient, code, subtype, lesions, s_date, user, signature) in enumerate(randomized):
        values = {fx.SITE: code, fx.SUBTYPE: subtype, fx.LESIONS: lesions}
        levels = {k: values[k] for k in keys}
        counts = {k: {v: dict(tallies[(k, v)])} for k, v in levels.items()}
        decision = allocation.minimize(counts, levels, config.weights, config.p, rng)
        sequence += 1
        when = at(s_date, 14, 5, i % 60).replace(microsecond=(i * 7919) % 1_000_000)
        record = Allocation(
            config=config, sequence=sequence, patient_id=patient.pk, arm=decision.arm, method=config.method,
            algorithm_version=allocation.ALGORITHM_VERSIONS[config.method], factors=levels, counts_before=counts,
            weights=dict(config.weights), imbalance=dict(decision.imbalance), preferred=decision.preferred or "",
            p=decision.p, u=decision.u, allocated_at=when, user_id=user.pk, signed_name=user.printed_name,
            signed_at=when, signature_meaning=randomization_services.DEFAULT_SIGNATURE_MEANING, prev_hash=prev_hash,
            signature_id=signature.pk)
        record.hash = ledger.compute_hash(record)
        prev_hash = record.hash
        for k, v in levels.items():
            tallies[(k, v)][decision.arm] += 1
        record._u = user
        records.append(record)
        patient_rows.append(hist(patient, when, user.pk, f"Randomized (allocation #{sequence})", "~",
                                 stage=Patient.Stage.RANDOMIZED))
    with transaction.atomic():
        bulk_with_history(records, lambda o: o._u.pk, lambda o: o.allocated_at, lambda o: "Randomized")
        bulk(history_model(Patient)[0], patient_rows)
        if records and config.frozen_at is None:
            config.frozen_at = records[0].allocated_at
            config._history_user = records[0]._u
            config._change_reason = "Frozen by the first allocation"
            config.save(update_fields=["frozen_at"])
    return len(records)


def context(today, seed):
    coordinators = {m.site_id: m.user for m in Membership.objects.filter(role=Membership.Role.COORDINATOR)
                    .select_related("user")}
    plans = {p.subtype: p for p in TherapyPlan.objects.order_by("subtype", "-version")}
    gen = Gen(today, random.Random(seed), coordinators, plans)
    gen.sequence = PrimaryRegistration.objects.aggregate(m=Max("sequence"))["m"] or 0
    return gen


def finish(gen):
    counter, _created = NumberCounter.objects.get_or_create(series=registration_services.COUNTER_PRIMARY)
    counter.value = max(counter.value, gen.sequence)
    counter.save(update_fields=["value"])  # a technical row, not audited (oligami_site/numbering.py)


def analyze():
    """Planner statistics for the new rows (a live database has them; COPY leaves them to autovacuum)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE")


def generate(total: int, sites: int, seed: int) -> dict:
    today = timezone.localdate()
    started = time.perf_counter()
    ensure_setup(sites, today)
    cache_consent_versions()
    site_objs = {s.code: s for s in Site.objects.filter(code__in=[site_code(i) for i in range(1, sites + 1)])}
    have = dict(Patient.objects.values("site__code").annotate(n=Max("sequence")).values_list("site__code", "n"))
    existing = Patient.objects.count()
    last_id = Patient.objects.aggregate(m=Max("id"))["m"] or 0
    gen = context(today, seed + existing)
    config = RandomizationConfig.objects.get(active=True)
    plan = []
    for i, target in enumerate(site_targets(total, sites), start=1):
        site = site_objs[site_code(i)]
        start = have.get(site.code) or 0
        plan.extend((site, seq) for seq in range(start + 1, target + 1))
    gen.rng.shuffle(plan)  # chunks mix sites, like real accrual
    names, weights = list(KINDS), list(KINDS.values())
    stages, randomized = Counter(), []
    for offset in range(0, len(plan), CHUNK):
        with transaction.atomic():
            for site, seq in plan[offset:offset + CHUNK]:
                gen.patient(site, seq, gen.rng.choices(names, weights)[0])
            counts, chunk_randomized = gen.flush()
        stages.update(counts)
        randomized.extend(chunk_randomized)
    allocations = chain_allocations(randomized, config)
    randomization_services.rebuild_tallies()  # the counts randomize reads (COPY bypassed the service)
    finish(gen)
    # What comes after randomization (follow-up, safety, oversight) for the patients just added.
    from generate_followup import generate_followup

    followup = generate_followup(list(Patient.objects.filter(id__gt=last_id).values_list("id", flat=True)),
                                 seed=seed + existing)
    analyze()
    return {"benchmark": "generate", "patients_total": Patient.objects.count(), "patients_added": len(plan),
            "existing_before": existing, "sites": sites, "allocations_added": allocations,
            "stages_added": dict(stages), "followup": followup, "seconds": round(time.perf_counter() - started, 1)}


def ready_pool(n: int, seed: int, sites: int | None = None) -> list[int]:
    """n patients secondary registered today and not yet randomized (for bench_randomize), over the sites: the
    state inside register_secondary's transaction, which the benchmark measures randomize from."""
    today = timezone.localdate()
    cache_consent_versions()
    gen = context(today, seed)
    site_list = list(Site.objects.filter(code__startswith="ST").order_by("code"))[: sites or None]
    last = dict(Patient.objects.values("site__code").annotate(n=Max("sequence")).values_list("site__code", "n"))
    with transaction.atomic():
        for i in range(n):
            site = site_list[i % len(site_list)]
            last[site.code] = (last.get(site.code) or 0) + 1
            gen.patient(site, last[site.code], "ready")
        patients = list(gen.patients)
        gen.flush()
        finish(gen)
    analyze()
    return [p.pk for p in patients]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=0, help="total number of patients wanted")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2110)
    parser.add_argument("--ready", type=int, default=0, help="add a pool of patients ready to randomize")
    args = parser.parse_args()
    if args.patients:
        result = generate(args.patients, args.sites, args.seed)
        emit(result)
        print(f"{result['patients_added']:,} patients added ({result['patients_total']:,} in all) over "
              f"{args.sites} sites, {result['allocations_added']:,} allocations, in {result['seconds']} s; "
              f"follow-up rows {result['followup']['rows']}")
    if args.ready:
        ids = ready_pool(args.ready, args.seed)
        emit({"benchmark": "ready_pool", "patients": len(ids)})


if __name__ == "__main__":
    main()
