"""No test reads the clock when it is collected (found by the full suite crossing midnight in Tokyo).

A parametrization such as ``{"onset_date": timezone.localdate() + 1 day}`` is evaluated when pytest imports
the module; a suite that runs past 15:00 UTC (midnight in Asia/Tokyo) then runs that case a day later, when
"tomorrow" is today and the refusal it expects no longer comes. The clock is read inside the test (a lambda
in the parameter, resolved by the test) or frozen with time-machine.
"""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CLOCK = {"now", "localdate", "today", "localtime", "utcnow"}


def clock_calls(node):
    for inner in ast.walk(node):
        if isinstance(inner, ast.Lambda):
            continue
        if isinstance(inner, ast.Call):
            name = getattr(inner.func, "attr", None) or getattr(inner.func, "id", None)
            if name in CLOCK and not _inside_lambda(node, inner):
                yield inner.lineno


def _inside_lambda(root, target) -> bool:
    return any(target in ast.walk(lam) for lam in ast.walk(root) if isinstance(lam, ast.Lambda))


def collection_time_clock_reads(source: str, filename: str = "<test>") -> list[int]:
    """Lines where a module-level statement or a decorator reads the clock outside a lambda."""
    found = []
    tree = ast.parse(source, filename)
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            decorated = [stmt, *(s for s in stmt.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)))] \
                if isinstance(stmt, ast.ClassDef) else [stmt]
            for item in decorated:
                for decorator in item.decorator_list:
                    found.extend(clock_calls(decorator))
        else:
            found.extend(clock_calls(stmt))
    return sorted(found)


def test_the_checker_finds_a_clock_read_in_a_parametrization_and_not_in_a_lambda():
    bad = ('@pytest.mark.parametrize("d", [timezone.localdate()])\ndef test_x(d):\n    pass\n'
           'TODAY = dt.date.today()\n')
    good = ('@pytest.mark.parametrize("d", [lambda: timezone.localdate()])\ndef test_x(d):\n'
            '    today = timezone.localdate()\nFIXED = dt.date(2026, 4, 1)\n')
    assert collection_time_clock_reads(bad) == [1, 4]
    assert collection_time_clock_reads(good) == []


def test_no_test_module_reads_the_clock_when_collected():
    offenders = [f"{path.relative_to(TESTS.parent)}:{line}"
                 for path in sorted(TESTS.rglob("*.py"))
                 for line in collection_time_clock_reads(path.read_text(encoding="utf-8"), str(path))]
    assert offenders == [], "read the clock inside the test (a lambda in the parameter), not at collection"
