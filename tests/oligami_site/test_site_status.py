"""The status x action table and the allowed status changes (oligami_site.site_status), exhaustively.

The expected table is written out here cell by cell from issue 17, independently of the module's own
sets, and every (status, action) pair and every (from, to) pair is checked.
"""

import itertools

import pytest

from oligami_site import site_status as ss
from oligami_site.site_status import Approval, SiteAction, Status

Y, N = True, False
A = SiteAction
# status:            screening  primary  secondary  randomization  follow-up  reminders
EXPECTED = {
    Status.PENDING:           dict(zip(A, (N, N, N, N, N, N), strict=True)),
    Status.OPEN:              dict(zip(A, (Y, Y, Y, Y, Y, Y), strict=True)),
    Status.CLOSED_TO_ACCRUAL: dict(zip(A, (N, N, Y, Y, Y, Y), strict=True)),
    Status.CLOSED:            dict(zip(A, (N, N, N, N, N, N), strict=True)),
}
COMPLETE = Approval(ethics_approval_date="2025-10-01", approved_protocol_version="1.0",
                    head_permission_date="2025-10-15", start_date="2025-11-01")
# (from, to) pairs the table allows; every other pair is refused.
ALLOWED_CHANGES = {
    (Status.PENDING, Status.OPEN), (Status.PENDING, Status.CLOSED),
    (Status.OPEN, Status.CLOSED_TO_ACCRUAL), (Status.OPEN, Status.CLOSED),
    (Status.CLOSED_TO_ACCRUAL, Status.OPEN), (Status.CLOSED_TO_ACCRUAL, Status.CLOSED),
}


def test_exactly_the_four_status_codes_and_six_actions():
    assert [s.value for s in Status] == ["pending", "open", "closed_to_accrual", "closed"]
    assert [a.value for a in SiteAction] == ["screening", "primary_registration", "secondary_registration",
                                             "randomization", "follow_up", "reminders"]


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, SiteAction)))
def test_every_cell_of_the_table(status, action):
    expected = EXPECTED[status][action]
    assert ss.allows(status.value, action.value) is expected
    assert ss.refusal(status.value, action.value) == (None if expected else f"site_{status.value}")
    assert (status in ss.statuses_allowing(action)) is expected


@pytest.mark.parametrize(("current", "new"), list(itertools.product(Status, Status)))
def test_every_status_change_with_a_complete_record_and_nobody_waiting(current, new):
    code = ss.transition_refusal(current, new, approval=COMPLETE, awaiting_secondary=0)
    assert code == (None if (current, new) in ALLOWED_CHANGES else "not_allowed")


@pytest.mark.parametrize("current", [Status.PENDING, Status.CLOSED_TO_ACCRUAL])
@pytest.mark.parametrize("missing", ["ethics_approval_date", "approved_protocol_version", "head_permission_date",
                                     "start_date"])
def test_a_site_opens_only_on_the_complete_approval_record(current, missing):
    partial = Approval(**{**COMPLETE.__dict__, missing: None if missing.endswith("date") else ""})
    assert partial.missing == (missing,)
    assert ss.transition_refusal(current, Status.OPEN, approval=partial, awaiting_secondary=0) == \
        "approval_incomplete"
    assert ss.transition_refusal(current, Status.OPEN, approval=Approval(), awaiting_secondary=0) == \
        "approval_incomplete"


@pytest.mark.parametrize("current", [Status.OPEN, Status.CLOSED_TO_ACCRUAL])
def test_patients_awaiting_secondary_registration_block_closing_but_not_closing_to_accrual(current):
    assert ss.transition_refusal(current, Status.CLOSED, approval=COMPLETE, awaiting_secondary=1) == "would_strand"
    assert ss.transition_refusal(current, Status.CLOSED, approval=COMPLETE, awaiting_secondary=0) is None
    if current == Status.OPEN:
        assert ss.transition_refusal(current, Status.CLOSED_TO_ACCRUAL, approval=COMPLETE,
                                     awaiting_secondary=5) is None


def test_closing_to_accrual_needs_no_approval_record_again():
    # An open site migrated from the old flag may have no record on file; it can still stop accrual.
    assert ss.transition_refusal(Status.OPEN, Status.CLOSED_TO_ACCRUAL, approval=Approval(),
                                 awaiting_secondary=0) is None


def test_unknown_codes_are_errors_not_permissions():
    with pytest.raises(ValueError):
        ss.allows("active", "screening")
    with pytest.raises(ValueError):
        ss.allows("open", "delete_everything")


def test_the_module_is_pure():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(ss))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module}
    assert imported <= {"__future__", "dataclasses", "enum"}
