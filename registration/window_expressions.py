"""The windows' status and next deadline of a patient as database expressions, for sorting, counting and
filtering a list in the database (the worklist: a busy site has thousands of patients between the
registrations, and the page shows 50; docs/performance.md, "Issue 21, second round").

The rules are `windows.py`'s, not new ones: every day count below is one of its constants
(WINDOW_OPEN_DAY, WINDOW_CLOSE_DAY, EVALUATION_TO_SECONDARY_DAYS, LAB_VALIDITY_DAYS, WINDOW_CLOSING_DAYS),
and each CASE follows `windows._STATUS_PRECEDENCE` and `windows._deadline` row for row over the columns that
`selectors.timeline_from_fields` reads. `tests/registration/test_window_expressions.py` compares the
expressions with `windows.status_and_deadline` patient by patient on every day around each boundary. The
rows a page shows are still computed by `windows.status_and_deadline` in Python; the database only says
which rows, in which order, and how many of each status.

Dates are compared as day numbers (days since 1970-01-01, `EpochDay`): integer arithmetic is the same on
PostgreSQL and SQLite, and `today` is a constant of the query.
"""

from datetime import date

from django.db.models import Case, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Greatest, Least

from screening.models import Patient

from . import windows

_EPOCH = date(1970, 1, 1)


class EpochDay(Func):
    """Days from 1970-01-01 to a date column (NULL stays NULL)."""

    output_field = IntegerField()
    arity = 1
    template = "(%(expressions)s - DATE '1970-01-01')"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection,
                           template="CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)", **extra_context)


def epoch_day(day: date) -> int:
    return day.toordinal() - _EPOCH.toordinal()


def from_epoch_day(number: int) -> date:
    return date.fromordinal(number + _EPOCH.toordinal())


def _int(value: int) -> Value:
    return Value(value, output_field=IntegerField())


# Annotation names (prefixed: they must not clash with the page's own).
STATUS = "wl_status"
DEADLINE_DAY = "wl_deadline_day"

_S = windows.Status


def annotate_status_and_deadline(queryset, today: date):
    """Patients annotated with STATUS (a `windows.Status` value) and DEADLINE_DAY (the next deadline's
    `epoch_day`, NULL when none): `windows.status_and_deadline` of `selectors.timeline_from_values` on `today`.

    The queryset must carry `screening_lab_date` (`selectors.with_screening_lab_date`).
    """
    t = epoch_day(today)
    evaluated = Q(response_evaluation__pk__isnull=False, response_evaluation__voided=False)
    queryset = queryset.annotate(
        wl_p=EpochDay("primary_registration__registration_date"),
        wl_due=EpochDay("primary_registration__registration_date")
        + F("primary_registration__plan__planned_courses") * F("primary_registration__plan__cycle_length_days"),
        wl_e=Case(When(evaluated, then=EpochDay("response_evaluation__date")), default=None,
                  output_field=IntegerField()),
        wl_progression=Case(When(evaluated & (Q(response_evaluation__progression=True)
                                              | Q(response_evaluation__new_distant_metastasis=True)),
                                 then=_int(1)), default=_int(0)),
        # timeline_from_fields' lab date: the screening's labs before primary registration (eligible only), the
        # evaluation's after it (a current evaluation only). Two names: the screening's is a subquery, and the
        # database copies an annotation into every place that names it (each copy counts in the planner's
        # cost, and a high cost turns on PostgreSQL's JIT compilation, slower than the query itself).
        wl_screening_lab=Case(
            When(primary_registration__registration_date__isnull=True, stage=Patient.Stage.ELIGIBLE,
                 then=EpochDay("screening_lab_date")),
            default=None, output_field=IntegerField()),
        wl_lab=Case(
            When(Q(primary_registration__registration_date__isnull=False) & evaluated,
                 then=EpochDay("response_evaluation__labs__date")),
            default=None, output_field=IntegerField()),
    ).annotate(
        # windows.secondary_window: open = max(day 84, evaluation), close = min(day 126, evaluation + 28)
        wl_open=Case(When(wl_e__isnull=False, then=Greatest(F("wl_p") + windows.WINDOW_OPEN_DAY, F("wl_e"))),
                     default=F("wl_p") + windows.WINDOW_OPEN_DAY, output_field=IntegerField()),
        wl_close=Case(When(wl_e__isnull=False, then=Least(F("wl_p") + windows.WINDOW_CLOSE_DAY,
                                                          F("wl_e") + windows.EVALUATION_TO_SECONDARY_DAYS)),
                      default=F("wl_p") + windows.WINDOW_CLOSE_DAY, output_field=IntegerField()),
    )
    not_registered = Q(primary_registration__registration_date__isnull=True)
    # windows._STATUS_PRECEDENCE, row for row (first match wins)
    status = Case(
        When(Q(off_study__pk__isnull=False) | Q(stage=Patient.Stage.OFF_STUDY), then=Value(_S.OFF_STUDY)),
        When(Q(stage=Patient.Stage.RANDOMIZED) | Q(secondary_registration__registration_date__isnull=False),
             then=Value(_S.RANDOMIZED)),
        When(not_registered & Q(stage=Patient.Stage.SCREEN_FAILED), then=Value(_S.SCREEN_FAILED)),
        When(not_registered & ~Q(stage=Patient.Stage.SCREENING), then=Value(_S.ELIGIBLE)),
        When(not_registered, then=Value(_S.SCREENING)),
        When(wl_progression=1, then=Value(_S.PROGRESSION)),
        When(Q(wl_close__lt=t) | Q(wl_open__gt=F("wl_close")), then=Value(_S.WINDOW_MISSED)),
        When(wl_close__lte=t + windows.WINDOW_CLOSING_DAYS, then=Value(_S.WINDOW_CLOSING)),
        When(Q(wl_e__isnull=True) & (Q(wl_due__lte=t) | Q(wl_p__lte=t - windows.WINDOW_OPEN_DAY)),
             then=Value(_S.EVALUATION_DUE)),
        When(wl_p__lte=t - windows.WINDOW_OPEN_DAY, then=Value(_S.WINDOW_OPEN)),
        default=Value(_S.ON_THERAPY),
    )
    queryset = queryset.annotate(**{STATUS: status})
    # windows._deadline: the lab expiry for an eligible patient (not registered: the screening's labs); for an
    # active status (registered: the evaluation's labs) the earliest of the window close, the evaluation due
    # (none recorded, not passed) and the pending labs' expiry (still valid)
    lab_expiry = F("wl_lab") + windows.LAB_VALIDITY_DAYS
    due_candidate = Case(When(wl_e__isnull=True, wl_due__gte=t, then=F("wl_due")), default=None,
                         output_field=IntegerField())
    lab_candidate = Case(When(Q(wl_lab__isnull=False, wl_lab__lte=F("wl_close"))
                              & Q(wl_lab__gte=F("wl_open") - windows.LAB_VALIDITY_DAYS)
                              & Q(wl_lab__gte=t - windows.LAB_VALIDITY_DAYS), then=lab_expiry),
                         default=None, output_field=IntegerField())
    active = [_S.ON_THERAPY, _S.EVALUATION_DUE, _S.WINDOW_OPEN, _S.WINDOW_CLOSING]
    assert set(active) == windows.ACTIVE_STATUSES
    deadline = Case(
        When(**{STATUS: _S.ELIGIBLE}, then=F("wl_screening_lab") + windows.LAB_VALIDITY_DAYS),
        When(**{f"{STATUS}__in": active}, then=Least(F("wl_close"), Coalesce(due_candidate, F("wl_close")),
                                                      Coalesce(lab_candidate, F("wl_close")))),
        default=None, output_field=IntegerField())
    return queryset.annotate(**{DEADLINE_DAY: deadline})
