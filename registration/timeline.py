"""The patient page's timeline picture: coordinates of an inline SVG, computed from the windows module.

Pure (no Django): a PatientTimeline and today in, shapes with coordinates and labels out; the template
only draws them, with classes from registration.css (no inline styles). Marks: day 0, the planned
courses, the evaluation due date, the response evaluation, day 84, day 126, evaluation + 28, the
secondary registration, off study, and today. Labels are stacked in rows so that they do not overlap.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from . import windows


def _(message: str) -> str:
    """No-op marker for xgettext; the caller passes ``translate`` (gettext) in."""
    return message


WIDTH = 960
HEIGHT = 230
MARGIN = 24
AXIS_Y = 130
BAND_TOP = 92
BAND_HEIGHT = 62
COURSE_HEIGHT = 20
LABEL_ROWS_ABOVE = (74, 56, 38, 20)
LABEL_ROWS_BELOW = (176, 194, 212)
FONT_PX = 13  # the CSS font-size of .timeline (registration.css): labels are placed by their width at it
MAX_DAYS_SHOWN = 210  # beyond this, today is pinned to the right edge


@dataclass(frozen=True)
class Course:
    x: float
    width: float
    label: str
    css: str


@dataclass(frozen=True)
class Mark:
    day: int
    date: date
    label: str  # English, for tests and logs
    css: str
    text: str = ""  # the label in the reader's language
    x: float = 0.0
    label_x: float = 0.0
    label_y: float = 0.0
    anchor: str = "start"
    line_top: float = 0.0
    line_bottom: float = 0.0
    clipped: bool = False  # beyond the drawn range (pinned to the edge)


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    axis_y: int
    axis_x1: float
    axis_x2: float
    band_top: int
    band_height: int
    course_y: float
    course_height: int
    courses: list[Course] = field(default_factory=list)
    window: tuple[float, float] | None = None  # x, width of the effective secondary window
    window_label: str = ""
    window_label_x: float = 0.0
    marks: list[Mark] = field(default_factory=list)
    title: str = ""


def _text_width(text: str) -> float:
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (len(text) - wide) * FONT_PX * 0.58 + wide * FONT_PX * 1.05


def timeline_picture(timeline: windows.PatientTimeline, today: date, translate=lambda s: s) -> Picture | None:
    """The picture of a primary registered patient, or None before primary registration."""
    primary = timeline.primary_registration_date
    if primary is None:
        return None
    evaluation = timeline.evaluation_date

    def day(d: date) -> int:
        return windows.day_number(primary, d)

    # (date, label template, its parameters, css): the day counts come from windows, never written here.
    raw: list[tuple[date, str, dict, str]] = [(primary, _("Day 0: primary registration"), {}, "tl-mark-primary")]
    due = timeline.evaluation_due_date
    if due is not None and evaluation is None:
        raw.append((due, _("Evaluation due"), {}, "tl-mark-due"))
    if evaluation is not None:
        raw.append((evaluation, _("Response evaluation"), {}, "tl-mark-evaluation"))
    raw.append((windows.window_open(primary), _("Day %(day)s"), {"day": windows.WINDOW_OPEN_DAY}, "tl-mark-window"))
    raw.append((windows.last_window_day(primary), _("Day %(day)s"), {"day": windows.WINDOW_CLOSE_DAY},
                "tl-mark-window"))
    if evaluation is not None:
        raw.append((windows.evaluation_close(evaluation), _("Evaluation + %(days)s"),
                    {"days": windows.EVALUATION_TO_SECONDARY_DAYS}, "tl-mark-window"))
    if timeline.secondary_registration_date is not None:
        raw.append((timeline.secondary_registration_date, _("Secondary registration"), {}, "tl-mark-secondary"))
    if timeline.off_study_date is not None:
        raw.append((timeline.off_study_date, _("Off study"), {}, "tl-mark-off"))
    raw.append((today, _("Today"), {}, "tl-mark-today"))

    first = min(-7, *(day(d) - 7 for d, *_rest in raw))
    last = max(windows.WINDOW_CLOSE_DAY + 7, *(day(d) + 7 for d, *_rest in raw if d != today),
               min(day(today), MAX_DAYS_SHOWN) + 7)
    last = min(last, MAX_DAYS_SHOWN + 7)
    span = WIDTH - 2 * MARGIN

    def x(n: float) -> float:
        n = max(first, min(last, n))
        return round(MARGIN + (n - first) / (last - first) * span, 1)

    courses = []
    if timeline.planned_courses and timeline.cycle_length_days:
        for k in range(timeline.planned_courses):
            x1, x2 = x(k * timeline.cycle_length_days), x((k + 1) * timeline.cycle_length_days)
            courses.append(Course(x1, round(x2 - x1, 1), f"C{k + 1}", f"tl-course tl-course-{k % 2}"))

    window = windows.secondary_window(primary, evaluation)
    band = None
    if not window.is_empty:
        x1, x2 = x(day(window.open)), x(day(window.close))
        band = (x1, max(round(x2 - x1, 1), 2.0))

    # Labels: left to right, each in the first row (above the axis first) where it does not overlap.
    rows = [(y, True) for y in LABEL_ROWS_ABOVE] + [(y, False) for y in LABEL_ROWS_BELOW]
    row_end = {y: -1e9 for y, _above in rows}
    marks = []
    for d, template, params, css in sorted(raw, key=lambda item: (item[0], item[3] != "tl-mark-primary")):
        label, shown = template % params, translate(template) % params
        text = f"{shown} {d.isoformat()}"
        mx = x(day(d))
        width = _text_width(text)
        anchor, start = ("start", mx) if mx + width <= WIDTH - 2 else ("end", mx - width)
        chosen = next((y for y, _above in rows if row_end[y] + 6 <= start), None)
        if chosen is None:
            chosen = min(row_end, key=row_end.get)
        row_end[chosen] = start + width
        above = chosen < AXIS_Y
        marks.append(Mark(
            day=day(d), date=d, label=label, css=css, text=shown, x=mx, label_x=mx, label_y=chosen, anchor=anchor,
            line_top=chosen + 3 if above else AXIS_Y, line_bottom=AXIS_Y if above else chosen - FONT_PX,
            clipped=not (first <= day(d) <= last)))
    return Picture(
        width=WIDTH, height=HEIGHT, axis_y=AXIS_Y, axis_x1=MARGIN, axis_x2=WIDTH - MARGIN, band_top=BAND_TOP,
        band_height=BAND_HEIGHT, course_y=AXIS_Y - COURSE_HEIGHT / 2, course_height=COURSE_HEIGHT,
        courses=courses, window=band, window_label=_("Secondary registration window"),
        window_label_x=(band[0] + 3) if band else 0.0, marks=marks,
        title=_("Timeline from primary registration (day 0) to the secondary registration window"),
    )
