"""The worklist's status and deadline in the database (registration.window_expressions) equal the windows
module's (windows.status_and_deadline of selectors.timeline_from_values), patient by patient, on every day
from before primary registration to past day 126 + 28: each boundary (evaluation due, day 84, close - 7, the
close, evaluation + 28, the labs' expiry, an empty window) is crossed by some patient of the set."""

import datetime as dt
import itertools

import pytest
from django.db.models import Count
from django.utils import timezone

from oligami_site.models import Signature
from registration import selectors, window_expressions, windows
from registration.models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration, TherapyPlan
from screening.models import LabPanel, Patient, Screening

from .factories import NORMAL_LABS

P0 = dt.date(2026, 2, 27)  # primary registration: a year's end of February, so that day counts cross 1 March
PLANS = [(4, 21), (3, 28), (6, 21), (2, 14), (8, 21)]  # evaluation due on day 84, 84, 126, 28, 168


class _Maker:
    def __init__(self, site, user):
        self.site, self.user, self.n = site, user, 0
        self.plans = [TherapyPlan.objects.create(subtype="luminal", regimen="r", version=k + 1, planned_courses=c,
                                                 cycle_length_days=d, effective_from=dt.date(2020, 1, 1))
                      for k, (c, d) in enumerate(PLANS)]

    def patient(self, stage, *, screening_labs=(None,), primary=None, plan=0, evaluation=None, eval_labs=None,
                progression=False, distant=False, voided=False, secondary=None, off_study=None):
        """One patient; dates are day numbers from P0 (None: no record)."""
        self.n += 1
        patient = Patient.objects.create(site=self.site, screening_number=f"{self.site.code}-X{self.n:04d}",
                                         sequence=self.n, sex="female", birth_date=dt.date(1970, 1, 1), stage=stage)
        screening = None
        for number, labs_day in enumerate(screening_labs, start=1):
            panel = (LabPanel.objects.create(patient=patient, date=P0 + dt.timedelta(days=labs_day), **NORMAL_LABS)
                     if labs_day is not None else None)
            screening = Screening.objects.create(patient=patient, number=number, screening_date=P0 - dt.timedelta(
                days=20), outcome="eligible", labs=panel)
        if primary is None:
            return patient
        day = dt.timedelta(days=1)
        registration = PrimaryRegistration.objects.create(
            patient=patient, screening=screening, sequence=self.n, number=f"OLG-{self.n:05d}",
            registration_date=P0 + primary * day, verdict={}, engine_version="t", subtype="luminal",
            plan=self.plans[plan], signature=self._signature(patient, "primary_registration"))
        record = None
        if evaluation is not None:
            panel = LabPanel.objects.create(patient=patient, date=P0 + (eval_labs if eval_labs is not None
                                                                         else evaluation) * day, **NORMAL_LABS)
            record = ResponseEvaluation.objects.create(
                patient=patient, date=P0 + evaluation * day, overall_response="SD", progression=progression,
                new_distant_metastasis=distant, remaining_lesions=1, courses_given=4, mdt_since_primary=False,
                ecog=0, labs=panel, voided=voided)
        if secondary is not None:
            SecondaryRegistration.objects.create(
                patient=patient, primary=registration, registration_date=P0 + secondary * day, evaluation=record,
                verdict={}, engine_version="t", signature=self._signature(patient, "secondary_registration"))
        if off_study is not None:
            OffStudy.objects.create(patient=patient, date=P0 + off_study * day, reason="other")
        return patient

    def _signature(self, patient, kind):
        return Signature.objects.create(user=self.user, printed_name="T", signed_at=timezone.now(), meaning="m",
                                        kind=kind, subject=patient.screening_number)


@pytest.fixture
def patients(db, coordinator_a, site_a):
    make = _Maker(site_a, coordinator_a)
    S = Patient.Stage
    # before primary registration: eligible with labs (the latest screening's), without labs, re-screened
    for labs in ((-10,), (0,), (5,), (None,), (-30, 2), (3, None)):
        make.patient(S.ELIGIBLE, screening_labs=labs)
    make.patient(S.SCREENING)
    make.patient(S.SCREEN_FAILED, screening_labs=(1,))
    make.patient(S.REGISTERED, screening_labs=(1,))  # a stage without its record: the timeline's own reading
    # registered, every plan, no evaluation
    for plan in range(len(PLANS)):
        make.patient(S.REGISTERED, primary=0, plan=plan)
    # evaluations around every boundary: day 55/56 (S3 + S4 leave no window before 56), before and after day
    # 84, on and after day 126; labs from far before the window to inside it
    for evaluation, labs_offset in itertools.product((20, 55, 56, 60, 70, 83, 84, 90, 100, 110, 120, 126, 127),
                                                     (0, -1, -14, -15, -40)):
        make.patient(S.REGISTERED, primary=0, evaluation=evaluation, eval_labs=evaluation + labs_offset)
    for plan in range(len(PLANS)):
        make.patient(S.REGISTERED, primary=0, plan=plan, evaluation=100, eval_labs=69)
        make.patient(S.REGISTERED, primary=0, plan=plan, evaluation=100, eval_labs=70)
    make.patient(S.REGISTERED, primary=0, evaluation=90, progression=True)
    make.patient(S.REGISTERED, primary=0, evaluation=90, distant=True)
    make.patient(S.REGISTERED, primary=0, evaluation=90, progression=True, voided=True)
    make.patient(S.REGISTERED, primary=0, evaluation=60, eval_labs=75, voided=True)
    make.patient(S.REGISTERED, primary=0, evaluation=90, off_study=95)
    make.patient(S.OFF_STUDY, primary=0, evaluation=90)
    make.patient(S.REGISTERED, primary=0, evaluation=90, secondary=100)
    make.patient(S.RANDOMIZED, primary=0, evaluation=90, secondary=100)
    return Patient.objects.filter(site=site_a)


def _python(queryset, today):
    rows = selectors.with_screening_lab_date(queryset).order_by().values(*selectors.TIMELINE_FIELDS, "pk")
    return {row["pk"]: windows.status_and_deadline(selectors.timeline_from_values(row), today) for row in rows}


def test_status_and_deadline_in_the_database_equal_the_windows_module(patients):
    assert patients.count() > 90
    statuses = set()
    for offset in range(-20, 175):
        today = P0 + dt.timedelta(days=offset)
        expected = _python(patients, today)
        annotated = window_expressions.annotate_status_and_deadline(selectors.with_screening_lab_date(patients), today)
        got = {pk: (status, day) for pk, status, day in annotated.values_list(
            "pk", window_expressions.STATUS, window_expressions.DEADLINE_DAY)}
        for pk, (status, deadline) in expected.items():
            day = window_expressions.from_epoch_day(got[pk][1]) if got[pk][1] is not None else None
            assert (got[pk][0], day) == (status, deadline.date if deadline else None), (today, pk)
            statuses.add(status)
    assert statuses == set(windows.Status)  # every status was met somewhere


def test_the_worklist_keys_order_filter_and_count_as_the_python_rows(patients, coordinator_a):
    for offset in (-5, 10, 60, 83, 84, 95, 119, 120, 126, 127, 140):
        today = P0 + dt.timedelta(days=offset)
        rows = selectors.worklist_rows(coordinator_a, today)
        keys = selectors.worklist_keys(coordinator_a, today)
        assert [(k.pk, k.status) for k in keys] == [(r.patient.pk, r.status) for r in rows]
        assert [window_expressions.from_epoch_day(k.deadline_day) if k.deadline_day is not None else None
                for k in keys] == [r.deadline.date if r.deadline else None for r in rows]
        page = selectors.worklist_rows_of([k.pk for k in keys[:50]], today)
        assert [(r.patient.pk, r.status, r.deadline) for r in page] == [(r.patient.pk, r.status, r.deadline)
                                                                         for r in rows[:50]]
        for status in windows.Status:
            assert [k.pk for k in selectors.filter_keys(keys, today, status=status)] == [
                r.patient.pk for r in rows if r.status == status]
        for due in (0, 3, 7, 30):
            assert [k.pk for k in selectors.filter_keys(keys, today, due=due)] == [
                r.patient.pk for r in rows if r.days_left is not None and r.days_left <= due]


def test_epoch_days_round_trip_in_the_database(patients):
    for day in (dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(2026, 12, 31), dt.date(2099, 3, 1)):
        number = window_expressions.epoch_day(day)
        assert window_expressions.from_epoch_day(number) == day
        LabPanel.objects.filter(pk=LabPanel.objects.order_by("pk").first().pk).update(date=day)
        got = (LabPanel.objects.filter(pk=LabPanel.objects.order_by("pk").first().pk)
               .annotate(n=window_expressions.EpochDay("date")).values_list("n", flat=True).get())
        assert got == number
    assert Patient.objects.aggregate(n=Count("pk"))["n"] > 0
