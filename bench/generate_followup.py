"""Bench data after randomization: follow-up, safety and oversight records of the generated patients.

Usage: called by generate.py for the patients it has just added (so 1,000 -> 10,000 appends);
       .venv/bin/python bench/generate_followup.py   (alone: every randomized patient without follow-up yet)

Runs against the bench database only (bench/common.py). Deterministic (the seed and the patients' ids), COPY
through generate.bulk with a "+" history row for every audited object, like generate.py. What is written:
- trial configuration once: the schedule of assessments (every 84 days +/- 14, from day 1092 every 182
  +/- 28), follow-up settings (status unknown after 180 days, MDT within 42 days), safety settings (CTCAE 5.0,
  72 h / 15 days) and a list of expected events per treatment; all frozen, as after the first patient;
- re-consent on version 2.0 (generate.py's consent versions) for about 95% of the patients still on study
  who consented on 1.0; the rest are awaiting re-consent;
- per randomized patient: the courses of the plan after randomization (luminal and HER2 continue, TNBC
  stops), metastasis-directed therapy of the remaining lesions in arm B (SBRT, from day 14), a
  contamination in about 4% of arm A; assessments on the schedule (+/- 7 days) until death, a withdrawal
  from visits or all data, or loss to follow-up (3% stopped 120 days ago: overdue); the first one after a
  progression finds it (about 40% of those followed two years); deaths (about 8% a year; each with its
  safety assessment, grade 5), withdrawals (about 5%: treatment 50%, visits 35%, all data 15%), lost to
  follow-up (about 1.5%, confirmed by the data manager in the survey); a last date known alive within the
  last 45 days for the others;
- one open follow-up survey (cut-off 30 days ago) with an entry for about 88% of the patients randomized
  before it (alive with a date known alive, or dead), and a data cut-off declared on the same date;
- adverse events (0-4 per patient, grade 1 45%, 2 35%, 3 15%, 4 5%), judged by safety/reportability.py on the
  patient's treatment facts; reportable ones get signed first and second expedited reports (investigator's
  signature rows), most acknowledged; about 5% of the deadlines passed without a report (overdue, with their
  deadline alerts); recent ones may be due soon;
- data queries on about a quarter of the randomized patients, in every status (open 25%, answered 15%,
  re-opened 5%, closed 55%) with their messages, and protocol deviations on about 6% (60% closed).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections import defaultdict

from common import emit

if "generate" not in sys.modules and "__main__" in sys.modules and \
        getattr(sys.modules["__main__"], "__file__", "").endswith("generate.py"):
    sys.modules["generate"] = sys.modules["__main__"]  # called from generate.py run as a script: the same module
import generate as g  # noqa: E402  (sets Django up against the bench database)
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from followup.models import (  # noqa: E402
    Assessment,
    Contamination,
    Death,
    FollowupSettings,
    FollowupSurvey,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    ScheduleRule,
    SurveyEntry,
    SystemicCourse,
    Withdrawal,
)
from oligami_site.models import Membership, Signature, User  # noqa: E402
from oversight.models import Cutoff, DataQuery, Deviation, QueryMessage  # noqa: E402
from randomization.models import Allocation  # noqa: E402
from registration.models import PrimaryRegistration, SecondaryRegistration  # noqa: E402
from safety import reportability  # noqa: E402
from safety import services as safety_services  # noqa: E402
from safety.models import (  # noqa: E402
    AdverseEvent,
    DeadlineAlert,
    ExpectedEvent,
    ExpeditedReport,
    ReportKind,
    SafetySettings,
)
from screening.models import ConsentDocument, Lesion, Patient, Reconsent, Screening  # noqa: E402

SCHEDULE = [(0, 84, 14), (1092, 182, 28)]
STATUS_UNKNOWN_DAYS = 180
MDT_START_DAYS = 42
SURVEY_CUTOFF_DAYS = 30
EXPECTED = {
    "systemic_luminal": ["Neutrophil count decreased", "Fatigue", "Stomatitis", "Hot flashes"],
    "systemic_her2": ["Diarrhea", "Neutrophil count decreased", "Alopecia", "Ejection fraction decreased"],
    "systemic_tnbc": ["Nausea", "Neutrophil count decreased", "Febrile neutropenia", "Alopecia",
                      "Peripheral sensory neuropathy"],
    "radiotherapy": ["Dermatitis radiation", "Pneumonitis", "Fatigue"],
}
UNEXPECTED = ["Pneumonia", "Thromboembolic event", "Fall", "Urinary tract infection", "Hypertension"]
GRADES = ((1, 0.45), (2, 0.35), (3, 0.15), (4, 0.05))
CAUSALITY = ("definite", "probable", "possible", "unlikely", "not_related")
# Post-randomization courses of the plan: how many more at most (luminal and HER2 go on; TNBC chemotherapy ends).
MORE_COURSES = {"luminal": 40, "her2": 18, "tnbc": 0}
WITHDRAWAL_KINDS = ((Withdrawal.Kind.TREATMENT, 0.5), (Withdrawal.Kind.VISITS, 0.35), (Withdrawal.Kind.ALL_DATA, 0.15))
QUERY_STATUS = (("open", 0.25), ("answered", 0.15), ("reopened", 0.05), ("closed", 0.55))
QUERY_TEXTS = ("Please confirm the assessment date against the source document.",
               "The course end date is missing: is the course ongoing?",
               "Please check the CTCAE grade recorded for this event.",
               "The last date known alive differs from the clinic record.")
DEVIATION_CATEGORIES = [c for c, _label in Deviation.Category.choices]


def weighted(rng, pairs):
    return rng.choices([k for k, _w in pairs], [w for _k, w in pairs])[0]


def history_rows(objs, user_of, when_of, reason_of):
    g.bulk_with_history(objs, user_of, when_of, reason_of)


def ensure_configuration(manager, today):
    """Schedule, follow-up and safety settings, expected events: once, frozen (patients depend on them)."""
    frozen = g.at(today - dt.timedelta(days=1100), 9)
    if not ScheduleRule.objects.exists():
        rules = [ScheduleRule(from_day=d, interval_days=i, window_days=w, frozen_at=frozen) for d, i, w in SCHEDULE]
        history_rows(rules, lambda o: manager.pk, lambda o: frozen, lambda o: "Bench schedule of assessments")
    if not FollowupSettings.objects.exists():
        history_rows([FollowupSettings(status_unknown_days=STATUS_UNKNOWN_DAYS, mdt_start_days=MDT_START_DAYS)],
                     lambda o: manager.pk, lambda o: frozen, lambda o: "Bench follow-up settings")
    if not SafetySettings.objects.exists():
        history_rows([SafetySettings(frozen_at=frozen)], lambda o: manager.pk, lambda o: frozen,
                     lambda o: "Bench safety settings")
    if not ExpectedEvent.objects.exists():
        events = [ExpectedEvent(treatment=t, term=term) for t, terms in EXPECTED.items() for term in terms]
        history_rows(events, lambda o: manager.pk, lambda o: frozen, lambda o: "Bench expected events")


def reconsents(patient_ids, today, rng):
    """Re-consent on the version in force for about 95% of the patients still on study who signed an older one."""
    documents = list(ConsentDocument.objects.order_by("effective_date"))
    if len(documents) < 2:
        return 0
    current = documents[-1]
    latest = {}
    for pid, version_id, consent_date in (Screening.objects.filter(patient_id__in=patient_ids)
                                          .order_by("patient_id", "number")
                                          .values_list("patient_id", "consent_version_id", "consent_date")):
        latest[pid] = (version_id, consent_date)
    on_study = Patient.objects.filter(pk__in=patient_ids, stage__in=[Patient.Stage.REGISTERED,
                                                                     Patient.Stage.RANDOMIZED])
    users = coordinators()
    rows = []
    for pid, site_id in on_study.values_list("pk", "site_id").order_by("pk"):
        version_id, _consent_date = latest.get(pid, (None, None))
        if version_id == current.pk or rng.random() >= 0.95:
            continue
        day = min(today, current.effective_date + dt.timedelta(days=rng.randint(3, 90)))
        r = Reconsent(patient_id=pid, document=current, date=day, created_at=g.at(day, 15))
        r._u = users[site_id]
        rows.append(r)
    history_rows(rows, lambda o: o._u.pk, lambda o: o.created_at, lambda o: "Re-consent recorded")
    return len(rows)


def coordinators():
    return {m.site_id: m.user for m in Membership.objects.filter(role=Membership.Role.COORDINATOR)
            .select_related("user")}


def investigators():
    return {m.site_id: m.user for m in Membership.objects.filter(role=Membership.Role.INVESTIGATOR)
            .select_related("user")}


class Followup:
    """Unsaved rows of one batch of randomized patients, inserted model by model (parents first)."""

    def __init__(self, today, now, rng, manager, survey, cutoff_date):
        self.today, self.now, self.rng, self.manager = today, now, rng, manager
        self.survey, self.cutoff_date = survey, cutoff_date
        self.crc, self.pi = coordinators(), investigators()
        settings = SafetySettings.objects.first()
        self.first_hours, self.second_days = settings.first_report_hours, settings.second_report_days
        self.ctcae = settings.ctcae_version
        self.expected = {t: {term.casefold() for term in terms} for t, terms in EXPECTED.items()}
        self.rows = defaultdict(list)  # model -> objects
        self.counts = defaultdict(int)

    def add(self, obj, user, when, reason=""):
        obj._u, obj._when, obj._reason = user, when, reason or f"{type(obj)._meta.verbose_name} recorded"
        self.rows[type(obj)].append(obj)
        self.counts[type(obj).__name__] += 1
        return obj

    def patient(self, info):
        rng, today = self.rng, self.today
        pid, site_id, origin, arm = info["id"], info["site_id"], info["origin"], info["arm"]
        user = self.crc[site_id]
        days = (today - origin).days
        # Events of the patient's follow-up (dates; None: does not happen).
        death = withdrawal = lost = progression = None
        if days > 60 and rng.random() < min(0.35, 0.08 * days / 365):
            death = origin + dt.timedelta(days=rng.randint(60, days))
        if days > 30 and rng.random() < 0.05:
            withdrawal = (origin + dt.timedelta(days=rng.randint(30, days)), weighted(rng, WITHDRAWAL_KINDS))
            if death is not None and withdrawal[0] >= death:
                withdrawal = None
        if death is None and days > 300 and rng.random() < 0.015:
            lost = origin + dt.timedelta(days=rng.randint(90, days - 200))  # last seen
        if days > 84 and rng.random() < 0.4 * min(1.0, days / 730):
            progression = origin + dt.timedelta(days=rng.randint(84, days))
        all_data = withdrawal[0] if withdrawal and withdrawal[1] == Withdrawal.Kind.ALL_DATA else None
        no_visits = withdrawal[0] if withdrawal and withdrawal[1] != Withdrawal.Kind.TREATMENT else None
        end = min(d for d in (today, death, all_data, lost) if d is not None)
        # Protocol treatment after randomization: the plan's courses go on until progression, death or withdrawal.
        treatment_end = min(d for d in (end, progression, withdrawal[0] if withdrawal else None) if d is not None)
        number, start = info["last_course"], info["next_start"]
        cycle = info["cycle"]
        facts = {"start": info["first_start"], "end": info["last_end"], "ongoing": False}
        for _k in range(MORE_COURSES[info["subtype"]] if rng.random() < 0.9 else 0):
            if start > treatment_end:
                break
            number += 1
            stop = start + dt.timedelta(days=cycle - 1)
            stopped = stop > treatment_end and treatment_end < today
            if stopped:
                stop = treatment_end
            course = self.add(SystemicCourse(patient_id=pid, plan_id=info["plan_id"], number=number, start_date=start,
                                             end_date=stop if stop < today else None, dose_modified=rng.random() < 0.1,
                                             stopped_early=stopped, stopped_early_reason="Progression or withdrawal"
                                             if stopped else "", created_at=g.at(start, 16)), user, g.at(start, 16))
            facts["ongoing"] = facts["ongoing"] or course.end_date is None
            if course.end_date is not None:
                facts["end"] = max(facts["end"], course.end_date)
            if stopped or stop >= today:
                break
            start = stop + dt.timedelta(days=1)
        mdt = False
        if arm == "B":
            for k, lesion_id in enumerate(info["lesions"][: info["remaining"]]):
                begin = origin + dt.timedelta(days=14 + 7 * k)
                if begin + dt.timedelta(days=4) > min(today, treatment_end):
                    break
                finish = begin + dt.timedelta(days=4)
                self.add(MetastasisDirectedTherapy(
                    patient_id=pid, lesion_id=lesion_id, modality="sbrt", start_date=begin, end_date=finish,
                    dose_gy="35.0", fractions=5, completed_as_planned=True, created_at=g.at(finish, 17)),
                    user, g.at(finish, 17))
                mdt = True
                if facts["end"] is None or finish > facts["end"]:
                    facts["end"] = finish
        elif days > 200 and rng.random() < 0.04:
            when = origin + dt.timedelta(days=rng.randint(100, days - 30))
            if when < end:
                self.add(Contamination(patient_id=pid, date=when, modality="conventional_rt",
                                       reason="Bench: palliative radiotherapy for a painful bone lesion.",
                                       created_at=g.at(when, 17)), user, g.at(when, 17))
        treatment = reportability.Treatment(start_date=facts["start"], last_day=facts["end"], ongoing=facts["ongoing"])
        # Assessments on the schedule (every 84 days, +/- 7, from day 1092 every 182) until the end of study visits;
        # the first one on or after the progression finds it. About 3% of the patients missed their last ones
        # (overdue: the worklist, the DM home and the automatic check show them).
        visits_end = min(d for d in (end, no_visits) if d is not None)
        if rng.random() < 0.03:
            visits_end = min(visits_end, today - dt.timedelta(days=120))
        last_alive, progressed = origin, False
        day = 84
        while True:
            when = origin + dt.timedelta(days=day + rng.randint(-7, 7))
            if when > visits_end or (death is not None and when >= death):
                break
            found = not progressed and progression is not None and when >= progression
            progressed = progressed or found
            self.add(Assessment(patient_id=pid, date=when, progression=found,
                                progression_sites=[rng.choice(["new_organ", "treated_lesion", "untreated_original",
                                                               "new_lesion_same_organ"])] if found else [],
                                notes="", created_at=g.at(when, 15)), user, g.at(when, 15))
            last_alive = when
            day += 84 if day < 1092 else 182
        if withdrawal is not None:
            when, kind = withdrawal
            self.add(Withdrawal(patient_id=pid, date=when, kind=kind, details="Bench withdrawal",
                                created_at=g.at(when, 16)), user, g.at(when, 16), f"Withdrawal ({kind})")
        death_row = None
        if death is not None:
            death_row = self.add(Death(patient_id=pid, date=death, cause=rng.choice(
                ["breast_cancer"] * 7 + ["other", "unknown", "treatment_related"]), details="",
                created_at=g.at(death + dt.timedelta(days=2), 11)), user, g.at(death + dt.timedelta(days=2), 11))
        elif lost is None and all_data is None:
            alive = max(last_alive, today - dt.timedelta(days=rng.randint(0, 45)))
            self.add(LastKnownAlive(patient_id=pid, date=alive, source="Outpatient visit",
                                    created_at=g.at(alive, 17)), user, g.at(alive, 17))
        else:
            alive = min(lost or all_data, today)
            self.add(LastKnownAlive(patient_id=pid, date=max(origin, alive), source="Medical record",
                                    created_at=g.at(max(origin, alive), 17)), user, g.at(max(origin, alive), 17))
        self.survey_entry(pid, user, origin, death, lost, all_data)
        self.events(info, user, treatment, mdt, end, death_row)
        self.oversight(info, user, end)

    def survey_entry(self, pid, user, origin, death, lost, all_data):
        cutoff = self.cutoff_date
        if origin > cutoff or (all_data and all_data <= cutoff):
            return
        when = self.survey.opened_at + dt.timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 8))
        when = min(when, self.now - dt.timedelta(hours=1))
        if lost is not None:
            self.add(LostToFollowUp(patient_id=pid, survey=self.survey, confirmed_at=when, confirmed_by=self.manager,
                                    details="Bench: no contact since the last visit"), self.manager, when,
                     "Lost to follow-up confirmed")
            return
        if self.rng.random() >= 0.88:
            return  # not confirmed yet
        if death is not None and death <= cutoff:
            entry = SurveyEntry(survey=self.survey, patient_id=pid, status="dead", confirmed_at=when,
                                confirmed_by=user, progression_since_last=None)
        else:
            alive = cutoff + dt.timedelta(days=self.rng.randint(-20, 10))
            alive = max(origin, min(alive, death or alive, all_data or alive, self.today))
            entry = SurveyEntry(survey=self.survey, patient_id=pid, status="alive", last_known_alive=alive,
                                confirmed_at=when, confirmed_by=user, progression_since_last=self.rng.random() < 0.1)
            self.add(LastKnownAlive(patient_id=pid, date=alive, survey=self.survey,
                                    source=f"survey {cutoff.isoformat()}", created_at=when), user, when,
                     "Last date known alive (survey)")
        self.add(entry, user, when, "Survey entry confirmed")

    def judge(self, event, primary_date, treatment, awareness):
        death = getattr(event, "_death", None)  # built in memory with the event, not saved yet
        judged = safety_services.judged_event(event, death_date=death.date if death is not None else None)
        reportable, rule = reportability.decide(primary_registration_date=primary_date, treatment=treatment,
                                                event=judged)
        event.reportable, event.rule = reportable, str(rule)
        if reportable:
            event.clock_start = awareness
            event.first_report_due, event.second_report_due = reportability.deadlines(
                awareness, first_report_hours=self.first_hours, second_report_days=self.second_days)

    def awareness(self, day):
        when = g.at(day + dt.timedelta(days=self.rng.choice([0, 0, 1, 2, 3])), self.rng.randint(9, 17))
        return min(when, self.now - dt.timedelta(hours=self.rng.randint(1, 6)))

    def events(self, info, user, treatment, mdt, end, death_row):
        rng = self.rng
        pid, primary_date = info["id"], info["primary_date"]
        expected = self.expected[f"systemic_{info['subtype']}"] | (self.expected["radiotherapy"] if mdt else set())
        terms = sorted({t for terms in EXPECTED.values() for t in terms}) + UNEXPECTED
        span = (end - primary_date).days
        for _k in range(rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4]) if span > 0 else 0):
            onset = primary_date + dt.timedelta(days=rng.randint(0, span))
            if onset > self.today - dt.timedelta(days=1):
                continue
            grade = weighted(rng, GRADES)
            term = rng.choice(terms)
            hospital = grade >= 3 and rng.random() < 0.4
            resolution = onset + dt.timedelta(days=rng.randint(3, 40))
            resolved = resolution < self.today and rng.random() < 0.8
            event = AdverseEvent(
                patient_id=pid, term=term, ctcae_version=self.ctcae, grade=grade, onset_date=onset,
                resolution_date=resolution if resolved else None, hospitalization_24h=hospital,
                life_threatening=grade == 4, expected=term.casefold() in expected,
                causality=rng.choice(CAUSALITY), action_taken=rng.choice(["none", "none", "dose_reduced",
                                                                          "interrupted"]),
                outcome="recovered" if resolved else "recovering", awareness=self.awareness(onset),
                recorded_by=user, rule="")
            event.created_at = event.awareness + dt.timedelta(hours=2)
            event.created_at = min(event.created_at, self.now)
            self.judge(event, primary_date, treatment, event.awareness)
            self.add(event, user, event.created_at, f"Adverse event recorded ({event.rule})")
            self.reports(event, info)
        if death_row is not None:
            event = AdverseEvent(patient_id=pid, death=death_row, term=safety_services.DEATH_TERM, grade=5,
                                 ctcae_version=self.ctcae, expected=False, onset_date=None,
                                 causality=rng.choice(["not_related"] * 6 + ["unlikely", "possible"]),
                                 action_taken="not_applicable", outcome="fatal",
                                 awareness=self.awareness(death_row.date), recorded_by=user, rule="")
            event._death = death_row
            event.created_at = min(event.awareness + dt.timedelta(hours=3), self.now)
            self.judge(event, primary_date, treatment, event.awareness)
            self.add(event, user, event.created_at, f"Safety assessment of the death ({event.rule})")
            self.reports(event, info)

    def reports(self, event, info):
        """Signed reports of a reportable event (investigator), a few deadlines missed (overdue, alerted)."""
        if not event.reportable:
            return
        rng, now = self.rng, self.now
        pi = self.pi[info["site_id"]]
        signed = event.clock_start
        for number, (kind, due) in enumerate(((ReportKind.FIRST, event.first_report_due),
                                              (ReportKind.SECOND, event.second_report_due)), start=1):
            if due < now and rng.random() < 0.05:
                self.alert(event, kind, due)
                if kind == ReportKind.FIRST and event.second_report_due < now:
                    self.alert(event, ReportKind.SECOND, event.second_report_due)
                return  # missed: nothing after it
            if due >= now and (kind == ReportKind.SECOND or rng.random() < 0.4):
                if due - now < dt.timedelta(hours=reportability.DUE_SOON_HOURS):
                    self.alert(event, kind, due, level=DeadlineAlert.Level.DUE_SOON)
                return  # not signed yet
            # Signed before its deadline, after the report before it.
            span = (due - signed).total_seconds()
            signed = signed + dt.timedelta(seconds=span * rng.uniform(0.1, 0.9))
            if signed >= now:
                return
            subject = f"{info['screening_number']} AE report {number}"
            sig = Signature(user=pi, printed_name=pi.printed_name, signed_at=signed,
                            kind=safety_services.SIGNATURE_KIND, meaning=safety_services.REPORT_MEANING[kind],
                            subject=subject)
            self.add(sig, pi, signed, "Signed")
            acknowledged = signed < now - dt.timedelta(days=2) and rng.random() < 0.85
            report = ExpeditedReport(adverse_event=event, kind=kind, number=number,
                                     narrative="Bench narrative of the event and its treatment.", signature=sig,
                                     signed_at=signed, due_at=due,
                                     acknowledged_at=signed + dt.timedelta(days=1) if acknowledged else None,
                                     acknowledged_by=self.manager if acknowledged else None,
                                     acknowledgement="Received." if acknowledged else "")
            self.add(report, pi, signed, f"{ReportKind(kind).label} signed")

    def alert(self, event, kind, due, level=DeadlineAlert.Level.OVERDUE):
        when = min(self.now, due + dt.timedelta(minutes=30)) if level == DeadlineAlert.Level.OVERDUE else \
            max(due - dt.timedelta(hours=23), event.created_at)
        alert = DeadlineAlert(adverse_event=event, report=kind, level=level, due_at=due, created_at=when,
                              sent_at=when, recipients="bench@x.test")
        self.rows[DeadlineAlert].append(alert)
        self.counts["DeadlineAlert"] += 1

    def oversight(self, info, user, end):
        rng, today = self.rng, self.today
        pid, origin = info["id"], info["origin"]
        if rng.random() < 0.25 and (today - origin).days > 2:
            status = weighted(rng, QUERY_STATUS)
            opened_day = origin + dt.timedelta(days=rng.randint(1, (today - origin).days))
            opened = g.at(opened_day, 11)
            q = DataQuery(patient_id=pid, text=rng.choice(QUERY_TEXTS), status=status, opened_by=self.manager,
                          opened_at=opened, waiting_since=opened_day, details={})
            steps = [("open", q.text, self.manager, opened)]
            t = opened
            if status != "open":
                t = min(t + dt.timedelta(days=rng.randint(1, 10)), self.now)
                q.answered_at = t
                steps.append(("answer", "Checked against the chart: corrected.", user, t))
            if status in ("reopened", "closed"):
                t = min(t + dt.timedelta(days=rng.randint(1, 5)), self.now)
                if status == "reopened":
                    q.waiting_since = timezone.localtime(t).date()
                    steps.append(("reopen", "Please also correct the later visit.", self.manager, t))
                else:
                    q.closed_at = t
                    steps.append(("close", "Thank you.", self.manager, t))
            self.add(q, self.manager, opened, f"Query opened ({status})")
            for step, text, author, at in steps:
                m = QueryMessage(query=q, step=step, text=text, author=author, at=at)
                self.add(m, author, at, f"Query {step}")
        if rng.random() < 0.06 and (today - origin).days > 2:
            day = origin + dt.timedelta(days=rng.randint(1, (today - origin).days))
            closed = rng.random() < 0.6
            d = Deviation(site_id=info["site_id"], patient_id=pid, date=day, category=rng.choice(DEVIATION_CATEGORIES),
                          description="Bench: assessment outside its window.", impact_safety="none",
                          impact_endpoint=rng.choice(["none", "possible"]),
                          corrective_action="Site retrained." if closed else "",
                          preventive_action="Reminder added to the worklist." if closed else "",
                          status="closed" if closed else "open", recorded_by=self.manager,
                          recorded_at=g.at(min(day + dt.timedelta(days=7), today), 12))
            self.add(d, self.manager, d.recorded_at, "Deviation recorded")

    def flush(self):
        """Parents first; foreign keys to objects of this batch take their ids after the parents are in."""
        order = [Signature, SystemicCourse, MetastasisDirectedTherapy, Contamination, Assessment, Withdrawal, Death,
                 LastKnownAlive, LostToFollowUp, SurveyEntry, AdverseEvent, ExpeditedReport, DataQuery, QueryMessage,
                 Deviation]
        for model in order:
            objs = self.rows.pop(model, [])
            for obj in objs:
                for f in model._meta.concrete_fields:
                    if f.is_relation:
                        related = f.get_cached_value(obj, None)
                        if related is not None:
                            setattr(obj, f.attname, related.pk)
            history_rows(objs, lambda o: o._u.pk, lambda o: o._when, lambda o: o._reason)
        alerts = self.rows.pop(DeadlineAlert, [])
        for a in alerts:
            a.adverse_event_id = a.adverse_event.pk
        g.bulk(DeadlineAlert, alerts)


def randomized_info(patient_ids):
    """What the follow-up of each randomized patient needs, in a few queries."""
    allocations = dict(Allocation.objects.filter(patient_id__in=patient_ids).values_list("patient_id", "arm"))
    ids = sorted(allocations)
    secondaries = {s.patient_id: s for s in SecondaryRegistration.objects.filter(patient_id__in=ids)
                   .select_related("evaluation")}
    primaries = {p.patient_id: p for p in PrimaryRegistration.objects.filter(patient_id__in=ids)
                 .select_related("plan", "patient")}
    courses = defaultdict(list)
    for pid, number, start, end in (SystemicCourse.objects.filter(patient_id__in=ids)
                                    .values_list("patient_id", "number", "start_date", "end_date")):
        courses[pid].append((number, start, end))
    lesions = defaultdict(list)
    screening_ids = {p.screening_id for p in primaries.values()}
    for sid, lid in Lesion.objects.filter(screening_id__in=screening_ids).order_by("position", "id") \
            .values_list("screening_id", "id"):
        lesions[sid].append(lid)
    out = []
    for pid in ids:
        primary, secondary = primaries[pid], secondaries[pid]
        done = sorted(courses[pid])
        last_number, _s, last_end = done[-1]
        out.append({
            "id": pid, "site_id": primary.patient.site_id, "screening_number": primary.patient.screening_number,
            "arm": allocations[pid], "origin": secondary.registration_date, "primary_date": primary.registration_date,
            "subtype": primary.subtype, "plan_id": primary.plan_id, "cycle": primary.plan.cycle_length_days,
            "last_course": last_number, "next_start": last_end + dt.timedelta(days=1), "first_start": done[0][1],
            "last_end": last_end, "lesions": lesions[primary.screening_id],
            "remaining": secondary.evaluation.remaining_lesions})
    return out


def ensure_survey(manager, today):
    """The one open follow-up survey (cut-off SURVEY_CUTOFF_DAYS ago) and a data cut-off declared on its date."""
    survey = FollowupSurvey.objects.filter(closed_at__isnull=True).first()
    if survey is None:
        cutoff = today - dt.timedelta(days=SURVEY_CUTOFF_DAYS)
        opened = g.at(cutoff + dt.timedelta(days=3), 10)
        survey = FollowupSurvey(cutoff_date=cutoff, opened_at=opened, opened_by=manager)
        history_rows([survey], lambda o: manager.pk, lambda o: opened, lambda o: "Survey opened")
    if not Cutoff.objects.exists():
        declared = g.at(survey.cutoff_date + dt.timedelta(days=1), 10)
        history_rows([Cutoff(date=survey.cutoff_date, purpose="Bench: interim analysis of follow-up",
                             declared_by=manager, declared_at=declared)],
                     lambda o: manager.pk, lambda o: declared, lambda o: "Cut-off declared")
    return survey


def generate_followup(patient_ids=None, seed=2110, batch=2000) -> dict:
    """Follow-up, safety and oversight rows of `patient_ids` (default: every randomized patient without a last date
    known alive, a death or an assessment yet)."""
    started = time.perf_counter()
    today = timezone.localdate()
    now = timezone.now()
    manager = User.objects.get(username="bench_dm")
    if patient_ids is None:
        done = set(LastKnownAlive.objects.values_list("patient_id", flat=True)) | \
            set(Death.objects.values_list("patient_id", flat=True))
        patient_ids = [pk for pk in Patient.objects.order_by("pk").values_list("pk", flat=True) if pk not in done]
    patient_ids = sorted(patient_ids)
    rng = random.Random(seed + (patient_ids[0] if patient_ids else 0))
    with transaction.atomic():
        ensure_configuration(manager, today)
        reconsented = reconsents(patient_ids, today, rng)
        survey = ensure_survey(manager, today)
    infos = randomized_info(patient_ids)
    counts = defaultdict(int)
    for offset in range(0, len(infos), batch):
        with transaction.atomic():
            fu = Followup(today, now, rng, manager, survey, survey.cutoff_date)
            for info in infos[offset:offset + batch]:
                fu.patient(info)
            fu.flush()
        for k, v in fu.counts.items():
            counts[k] += v
    g.analyze()
    return {"benchmark": "generate_followup", "randomized": len(infos), "reconsents": reconsented,
            "rows": dict(sorted(counts.items())), "seconds": round(time.perf_counter() - started, 1)}


def main():
    result = generate_followup()
    emit(result)
    print(f"follow-up of {result['randomized']:,} randomized patients in {result['seconds']} s: {result['rows']}")


if __name__ == "__main__":
    main()
