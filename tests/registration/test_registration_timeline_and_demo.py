"""The timeline picture's geometry, and the demo seeder (every status, idempotent)."""

import datetime as dt
import io

import pytest
from django.utils import timezone

from oligami_site.demo import seed_core
from registration import demo, selectors, windows
from registration.models import PrimaryRegistration, TherapyPlan
from registration.timeline import WIDTH, _text_width, timeline_picture
from screening import demo as screening_demo
from screening.models import Patient

P = dt.date(2026, 3, 2)


def test_no_picture_before_primary_registration():
    assert timeline_picture(windows.PatientTimeline(screening_outcome="eligible"), P) is None


def test_picture_marks_courses_and_window():
    timeline = windows.PatientTimeline(screening_outcome="eligible", primary_registration_date=P, planned_courses=4,
                                       cycle_length_days=21, evaluation_date=P + dt.timedelta(days=90))
    picture = timeline_picture(timeline, P + dt.timedelta(days=95))
    labels = [m.label for m in picture.marks]
    assert labels == ["Day 0: primary registration", "Day 84", "Response evaluation", "Today", "Evaluation + 28",
                      "Day 126"]
    assert [m.day for m in picture.marks] == [0, 84, 90, 95, 118, 126]
    xs = [m.x for m in picture.marks]
    assert xs == sorted(xs) and all(0 < x < WIDTH for x in xs)
    assert len(picture.courses) == 4 and picture.courses[-1].x + picture.courses[-1].width == picture.marks[1].x
    start, width = picture.window  # the effective window: evaluation (day 90) to evaluation + 28 (day 118)
    assert start == picture.marks[2].x and round(start + width, 1) == picture.marks[4].x
    # Labels in the same row never overlap (there is room for them here).
    rows = {}
    for m in picture.marks:
        width = _text_width(f"{m.label} {m.date.isoformat()}")
        start = m.label_x if m.anchor == "start" else m.label_x - width
        rows.setdefault(m.label_y, []).append((start, start + width))
    for spans in rows.values():
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert len(rows) >= 2


def test_picture_long_after_pins_today_to_the_edge():
    timeline = windows.PatientTimeline(screening_outcome="eligible", primary_registration_date=P, planned_courses=3,
                                       cycle_length_days=28)
    picture = timeline_picture(timeline, P + dt.timedelta(days=800))
    today = picture.marks[-1]
    assert today.label == "Today" and today.clipped and today.x <= WIDTH


@pytest.mark.django_db
def test_demo_has_every_status_and_is_idempotent(settings):
    settings.OLIGAMI_DEMO_PASSWORD = "demo-password-for-tests"
    seed_core(settings.OLIGAMI_DEMO_PASSWORD)
    screening_demo.seed(stdout=io.StringIO())
    demo.seed(stdout=io.StringIO())
    today = timezone.localdate()
    patients = selectors.patients_with_records(Patient.objects.exclude(initials=""))
    statuses = {windows.patient_status(selectors.timeline_of(p), today) for p in patients}
    # The patient to randomize today is secondary registered by followup.demo once its courses are recorded (S1
    # reads them, issue 16; tests/followup/test_followup_demo.py): on its own this demo leaves it in its window.
    assert statuses == {windows.Status.ON_THERAPY, windows.Status.EVALUATION_DUE, windows.Status.WINDOW_OPEN,
                        windows.Status.WINDOW_CLOSING, windows.Status.WINDOW_MISSED, windows.Status.OFF_STUDY}
    assert all("DEMO VALUES" in plan.regimen for plan in TherapyPlan.objects.all())
    counts = (Patient.objects.count(), PrimaryRegistration.objects.count(), TherapyPlan.objects.count())
    out = io.StringIO()
    demo.seed(stdout=out)
    assert (Patient.objects.count(), PrimaryRegistration.objects.count(), TherapyPlan.objects.count()) == counts
    assert "nothing created" in out.getvalue()
    # Issue 20: each signature was given on the day of the registration it signs (the demo writes the past as
    # on its own day), and no history row is dated after today.
    for registration in PrimaryRegistration.objects.select_related("signature"):
        assert timezone.localtime(registration.signature.signed_at).date() == registration.registration_date
    assert timezone.now() >= max(PrimaryRegistration.history.values_list("history_date", flat=True))


def test_the_demo_clock_never_runs_ahead_and_always_comes_back():
    import datetime as dt

    from oligami_site.demo import clock

    real = timezone.now
    with clock(timezone.localdate() - dt.timedelta(days=30), hour=10):
        first, second = timezone.now(), timezone.now()
        assert first < second
        assert (real() - first).days >= 29
    assert timezone.now is real
    with clock(timezone.localdate() + dt.timedelta(days=3)):
        assert timezone.now is real  # a future day leaves the clock alone
