"""The next deadline of each patient on a page of the patient list (issue 20).

The patient list is screening's page, but the deadlines that matter belong to the apps above it: the
secondary-registration window, the response evaluation and the labs (registration.windows), the next
assessment of the schedule (followup.schedule), an expedited report (safety). Screening cannot import them
(docs/architecture.md, the arrows), so it asks them through settings.OLIGAMI_PATIENT_DEADLINE_SOURCES: dotted
paths of callables ``source(patients: dict[int, str], today: date, now: datetime) -> dict[int,
PatientDeadline]`` where ``patients`` maps the ids of the rows shown to their stages. A source answers for
the patients it concerns, in a constant number of queries, and none when no row on the page is at one of its
stages (so a page of screen failures costs nothing more). Only the page's rows are asked, never the site.

The nearest date wins; an overdue deadline is nearer than any future one by its date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PatientDeadline:
    date: date  # the day in Asia/Tokyo
    label: str  # translated, without the date ("Secondary registration window closes")
    url: str = ""  # where the site acts on it
    time: str = ""  # "HH:MM" (Asia/Tokyo) for a deadline with an hour (expedited reports)
    overdue: bool = False

    def days_left(self, today: date) -> int:
        return (self.date - today).days


def sources() -> list:
    return [import_string(path) for path in getattr(settings, "OLIGAMI_PATIENT_DEADLINE_SOURCES", ())]


def nearest(patients: Mapping[int, str], today: date, now: datetime) -> dict[int, PatientDeadline]:
    """{patient id: her nearest deadline} for the patients of one page ({id: stage}); patients without one
    are absent. On a tie the first source listed wins (the settings' order)."""
    found: dict[int, PatientDeadline] = {}
    if not patients:
        return found
    for source in sources():
        for pk, deadline in source(patients, today, now).items():
            if pk in patients and (pk not in found or deadline.date < found[pk].date):
                found[pk] = deadline
    return found


def ids_at(patients: Mapping[int, str], stages) -> list[int]:
    """The ids of the patients at one of ``stages`` (for a source to skip its queries when there are none)."""
    stages = {str(s) for s in stages}
    return [pk for pk, stage in patients.items() if stage in stages]
