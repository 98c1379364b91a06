"""Informed-consent document versions (P18, issue 17): which version is in force on a day, and who must
re-consent. Pure: standard library only.

A version is in force from its effective date (inclusive) up to its superseded date (exclusive): the day
a new version takes effect is the first day of the new one, so a consent signed that day on the old
version was signed on a version no longer in force. Versions follow each other without gap or overlap
(the data centre's service supersedes the latest version on the new one's effective date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentDocument:
    version: str
    effective_date: dt.date
    superseded_date: dt.date | None = None  # None: still in force (no newer version has taken effect)


def in_force(document: ConsentDocument, on: dt.date) -> bool:
    """P18: the version was in force on `on` (effective date <= on < superseded date)."""
    if on < document.effective_date:
        return False
    return document.superseded_date is None or on < document.superseded_date


def version_in_force(documents: Iterable[ConsentDocument], on: dt.date) -> ConsentDocument | None:
    """The version in force on `on`, or None (before the first version took effect)."""
    for document in documents:
        if in_force(document, on):
            return document
    return None


def reconsent_due(current: ConsentDocument | None, today: dt.date) -> bool:
    """Re-consent (issue 17): the patient's latest consent is on a version superseded by `today`.

    `current` is the version of the patient's latest consent (first consent or re-consent). A version
    superseded only in the future (a new version announced, not yet in effect) asks nothing yet; a
    patient with no version on file must consent on the version in force.
    """
    if current is None:
        return True
    return current.superseded_date is not None and current.superseded_date <= today
