"""Kaplan-Meier estimates with numbers at risk, and their picture as plain geometry for an SVG template.

Pure: (days, event) pairs in, steps and coordinates out; standard library only. The endpoints come from
followup/endpoints.py (F1-F5); patients whose endpoints are unknown (F5) are left out by the caller.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Step:
    day: int
    survival: float  # after the events of this day


@dataclass(frozen=True)
class Curve:
    steps: tuple[Step, ...]  # starts with Step(0, 1.0)
    censored: tuple[tuple[int, float], ...]  # (day, survival at that day) of each censored observation
    n: int
    events: int
    last_day: int


def kaplan_meier(observations: Sequence[tuple[int, bool]]) -> Curve:
    """The product-limit estimate. At a day with both events and censorings, the censored are still at risk
    for that day's events (the usual convention)."""
    obs = sorted(observations)
    steps = [Step(0, 1.0)]
    censored = []
    survival = 1.0
    at_risk = len(obs)
    i = 0
    while i < len(obs):
        day = obs[i][0]
        j = i
        while j < len(obs) and obs[j][0] == day:  # the sorted run of this day: linear over the whole curve
            j += 1
        events = sum(1 for _d, e in obs[i:j] if e)
        total = j - i
        if events:
            survival *= 1 - events / at_risk
            if day == 0 and steps[-1].day == 0:
                steps[-1] = Step(0, survival)
            else:
                steps.append(Step(day, survival))
        censored.extend((day, survival) for _ in range(total - events))
        at_risk -= total
        i += total
    return Curve(steps=tuple(steps), censored=tuple(censored), n=len(obs), events=sum(1 for _d, e in obs if e),
                 last_day=obs[-1][0] if obs else 0)


def survival_at(curve: Curve, day: int) -> float:
    value = 1.0
    for step in curve.steps:
        if step.day <= day:
            value = step.survival
    return value


def at_risk(observations: Sequence[tuple[int, bool]], day: int) -> int:
    """Patients still followed on `day` (time on or after it)."""
    return sum(1 for d, _e in observations if d >= day)


def median(curve: Curve) -> int | None:
    """The first day the estimate falls to 0.5 or below; None when it never does."""
    return next((s.day for s in curve.steps if s.survival <= 0.5), None)


# --- the picture --------------------------------------------------------------------------------------

WIDTH, PLOT_TOP, PLOT_HEIGHT, LEFT, RIGHT = 640, 20, 240, 56, 24
ROW_HEIGHT = 18
STYLES = [("#212529", ""), ("#0d6efd", ""), ("#fd7e14", "6 3")]  # pooled black; arm A blue; arm B orange dashed


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    observations: tuple[tuple[int, bool], ...]


def _tick_months(max_day: int) -> list[int]:
    months = max(1, int(max_day / DAYS_PER_MONTH) + 1)
    step = 3 if months <= 24 else 6 if months <= 60 else 12
    return list(range(0, months + step, step))


def picture(series: Sequence[Series]) -> dict:
    """Coordinates of the curves, censoring marks, axes, ticks and the numbers-at-risk table."""
    curves = [(s, kaplan_meier(s.observations)) for s in series]
    max_day = max([c.last_day for _s, c in curves] + [1])
    ticks = _tick_months(max_day)
    span_days = ticks[-1] * DAYS_PER_MONTH or 1
    plot_width = WIDTH - LEFT - RIGHT
    bottom = PLOT_TOP + PLOT_HEIGHT

    def x(day: float) -> float:
        return round(LEFT + plot_width * day / span_days, 1)

    def y(value: float) -> float:
        return round(PLOT_TOP + PLOT_HEIGHT * (1 - value), 1)

    lines = []
    for index, (s, curve) in enumerate(curves):
        colour, dash = STYLES[index % len(STYLES)] if len(curves) == 1 else STYLES[1:][index % 2]
        points = []
        previous = 1.0
        for step in curve.steps:
            points.append((x(step.day), y(previous)))
            points.append((x(step.day), y(step.survival)))
            previous = step.survival
        points.append((x(curve.last_day), y(previous)))
        # The censoring ticks as one SVG path, one vertical stroke per distinct position: patients censored at
        # the same point share a tick, and a <line> element per patient cost seconds of template rendering at
        # 30,000 patients.
        marks = dict.fromkeys((x(d), y(v)) for d, v in dict.fromkeys(curve.censored))
        lines.append({"key": s.key, "label": s.label, "colour": colour, "dash": dash,
                      "points": " ".join(f"{px},{py}" for px, py in points),
                      "marks": " ".join(f"M{mx} {round(my - 4, 1)}V{round(my + 4, 1)}" for mx, my in marks),
                      "n": curve.n, "events": curve.events, "median": median(curve)})
    table_top = bottom + 44
    risk_rows = []
    for i, (s, line) in enumerate(zip(series, lines, strict=True)):
        days = sorted(d for d, _e in s.observations)  # at risk on a day: time on or after it (as at_risk)
        risk_rows.append({"label": s.label, "colour": line["colour"], "y": table_top + ROW_HEIGHT * (i + 1),
                          "cells": [{"x": x(m * DAYS_PER_MONTH),
                                     "n": len(days) - bisect_left(days, round(m * DAYS_PER_MONTH))} for m in ticks]})
    return {
        "width": WIDTH, "height": table_top + ROW_HEIGHT * (len(series) + 1),
        "left": LEFT, "right": WIDTH - RIGHT, "top": PLOT_TOP, "bottom": bottom,
        "y_ticks": [{"y": y(v), "label": f"{round(v * 100)}%"} for v in (0, 0.25, 0.5, 0.75, 1.0)],
        "x_ticks": [{"x": x(m * DAYS_PER_MONTH), "label": m} for m in ticks],
        "x_label_y": bottom + 16, "axis_title_y": bottom + 32, "table_title_y": table_top,
        "label_x": 4, "lines": lines, "risk_rows": risk_rows,
    }
