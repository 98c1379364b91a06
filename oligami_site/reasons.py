"""The reasons the system itself writes on history rows, shown in the reader's language.

Choice (issue 20): the reason stored on a simple-history row stays the English text the service wrote, and
is translated when shown (audit trail, admin history, exports for Japanese readers). Why not store codes:
- the history is never rewritten (docs/audit.md): rows written before this change are English text, and
  converting them would itself alter the audit trail; a display-time catalogue reads old and new rows alike;
- English is the trial's common language with the data centre and inspectors: the stored row reads the
  same to everyone, whatever the writer's language;
- reasons typed by people ("Creatinine re-measured") are kept and shown exactly as typed: only the
  phrases listed here are translated, so a person's words are never mistaken for a catalogue entry.

FIXED are whole reasons; PATTERNS are reasons with a part that varies (a number, a rule, the person's own
reason after "Off study: "), matched whole, with the varying part shown as stored. A service that writes a
new system phrase adds it here (tests/oligami_site/test_reasons.py walks every history row of a fully
registered and randomized patient and fails on a system reason this catalogue does not translate).
"""

import re

from django.utils.translation import gettext, gettext_noop

FIXED = frozenset({
    # screening
    gettext_noop("Patient created"),
    gettext_noop("Screening entered"),
    gettext_noop("P14 migration: blank initial-treatment part kept as not given (its meaning when evaluated)"),
    # registration
    gettext_noop("Wrong signature password"),
    gettext_noop("Signature meaning stored as its code"),  # migrations registration 0012, safety 0004
    gettext_noop("Linked to its signature row"),  # migration registration 0013: an allocation
    gettext_noop("Primary registration"),
    gettext_noop("Secondary registration"),
    gettext_noop("Laboratory values of the response evaluation"),
    gettext_noop("Response evaluation recorded"),
    # randomization
    gettext_noop("Randomization set-up created"),
    gettext_noop("Randomization set-up changed"),
    gettext_noop("Replaced by a new configuration"),
    gettext_noop("Allocation list discarded before go-live"),
    gettext_noop("Allocation list generated"),
    gettext_noop("Randomized"),
    gettext_noop("Frozen by the first allocation"),
    # data queries
    gettext_noop("Query opened"),
    gettext_noop("Query answered"),
    gettext_noop("Query closed"),
    gettext_noop("Query re-opened"),
    # protocol deviations, cut-off and lock
    gettext_noop("Deviation recorded"),
    gettext_noop("Deviation closed"),
    gettext_noop("Cut-off declared"),
    gettext_noop("Data locked"),
})

# (pattern of the stored text, msgid with the same named parts)
_PATTERN_MSGIDS = (
    gettext_noop("Primary registration %(number)s"),
    gettext_noop("Secondary registration %(number)s"),
    gettext_noop("Signed: %(meaning)s"),
    gettext_noop("Off study: %(reason)s"),
    gettext_noop("Therapy plan %(subtype)s version %(version)s"),
    gettext_noop("Refused set-up change (%(action)s)"),
    gettext_noop("Automatic check %(rule)s"),
    gettext_noop("Data unlocked: %(reason)s"),
    gettext_noop("Randomized (allocation #%(sequence)s)"),
)


def _regex(msgid: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", msgid)
    # re.split alternates literal text and names: literal, name, literal, name, ..., literal
    source = "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts))
    return re.compile(source, re.DOTALL)


PATTERNS = tuple((_regex(msgid), msgid) for msgid in _PATTERN_MSGIDS)


def is_system(stored: str) -> bool:
    return stored in FIXED or any(regex.fullmatch(stored) for regex, _msgid in PATTERNS)


def display(stored: str | None) -> str:
    """The stored reason in the active language: a catalogue phrase translated, anything else as stored."""
    if not stored:
        return ""
    if stored in FIXED:
        return gettext(stored)
    for regex, msgid in PATTERNS:
        match = regex.fullmatch(stored)
        if match:
            parts = match.groupdict()
            if "meaning" in parts:  # a signature's meaning: its code shown in the reader's language
                from .signatures import meaning_text

                parts["meaning"] = meaning_text(parts["meaning"])
            return gettext(msgid) % parts
    return stored
