"""The layering test: dependencies flow one way (docs/architecture.md, "The arrows").

    oligami_site (core) <- screening <- randomization <- registration <- followup <- safety <- oversight

An `ast` walk over every non-test module of the apps (migrations included, tests excluded) reads each
`import` and `from ... import` (at any depth, so imports inside functions count too) and fails on:

1. an app importing an app above it (the core may name the apps above it only in its wiring modules:
   settings, urls, celery, wsgi, asgi);
2. a pure module (the trial's rules without Django) importing anything but the standard library and the
   pure modules of its own app or of the apps below it.

The checker itself is tested on small made-up sources first, so a rule that never fires cannot pass
unnoticed (it was also run once against the code before the roof moved out of the core: see
docs/architecture.md).
"""

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["oligami_site", "screening", "randomization", "registration", "followup", "safety", "oversight"]
RANK = {app: rank for rank, app in enumerate(LAYERS)}

# The core's wiring: the only core modules that may name the apps above it.
CORE_WIRING = {"oligami_site.settings", "oligami_site.urls", "oligami_site.celery", "oligami_site.wsgi",
               "oligami_site.asgi"}

# Pure modules (dotted names; a name also covers the modules of the package of that name). The stage
# machine and the pure modules of the apps still being built are listed where they will live, so that they
# are checked from the day they appear.
PURE = (
    "screening.eligibility",
    "screening.stages",
    "registration.windows",
    "registration.next_step",
    "registration.stages",
    "randomization.allocation",
    "followup.endpoints",
    "safety.reportability",
)
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    rule: str

    def __str__(self):
        return f"{self.module}:{self.line} imports {self.imported} ({self.rule})"


def app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in RANK else None


def is_pure(module: str) -> bool:
    return any(module == pure or module.startswith(pure + ".") for pure in PURE)


def imported_modules(tree: ast.AST, module: str, is_package: bool):
    """(line, dotted name) for every import in the tree; relative imports resolved against `module`."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module
            # `from package import module` names a module as much as `import package.module` does.
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def check_module(module: str, source: str, *, is_package: bool = False) -> list[Violation]:
    app = app_of(module)
    pure = is_pure(module)
    violations = {}
    for line, imported in imported_modules(ast.parse(source), module, is_package):
        target_app = app_of(imported)
        if pure and not (imported.split(".")[0] in STDLIB
                         or (target_app is not None and RANK[target_app] <= RANK[app] and _names_pure(imported))):
            rule = "a pure module imports only the standard library and pure modules"
        elif target_app is not None and RANK[target_app] > RANK[app] and module not in CORE_WIRING:
            rule = f"{app} may not import {target_app}, above it"
        else:
            continue
        # One statement, one violation (`from a.b import c` yields both a.b and a.b.c).
        violations.setdefault((line, rule), Violation(module, line, imported, rule))
    return list(violations.values())


def _names_pure(imported: str) -> bool:
    """`from screening import eligibility` yields both `screening` and `screening.eligibility`: the bare
    package of a pure module is fine as a stepping stone, the module itself must be pure."""
    if imported in RANK:
        return True
    return any(imported == pure or imported.startswith(pure + ".") for pure in PURE)


def app_modules():
    """(dotted name, path, is_package) of every non-test Python module of the apps."""
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = list(relative.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            if "tests" in parts:
                continue
            yield ".".join(parts), path, is_package


def all_violations() -> list[Violation]:
    found = []
    for module, path, is_package in app_modules():
        found.extend(check_module(module, path.read_text(encoding="utf-8"), is_package=is_package))
    return found


def test_every_app_module_follows_the_arrows():
    violations = all_violations()
    assert not violations, "imports against the arrows:\n" + "\n".join(map(str, violations))


def test_the_walk_reads_every_app():
    modules = {module for module, _, _ in app_modules()}
    assert {"oligami_site.access", "screening.eligibility", "randomization.allocation",
            "registration.windows", "oversight.apps"} <= modules
    assert not any(".tests" in module for module in modules)


# The checker, checked: each rule fires on a made-up source, and allowed imports stay allowed.

@pytest.mark.parametrize(("module", "source", "expected"), [
    ("oligami_site.exports", "from registration.models import OffStudy\n", "oligami_site may not import registration"),
    ("oligami_site.views", "def home(request):\n    from registration import views\n", "may not import registration"),
    ("screening.services", "from randomization import services\n", "screening may not import randomization"),
    ("randomization.services", "import registration.models\n", "randomization may not import registration"),
    ("registration.services", "from oversight import reports\n", "registration may not import oversight"),
    ("registration.windows", "from django.utils import timezone\n", "pure module"),
    ("registration.windows", "from screening.models import Patient\n", "pure module"),
    ("screening.eligibility.performance", "from .. import models\n", "pure module"),
    ("randomization.allocation", "import numpy\n", "pure module"),
    ("screening.eligibility", "from registration.windows import PRIMARY_DAYS\n", "pure module"),
])
def test_the_checker_finds(module, source, expected):
    violations = check_module(module, source)
    assert violations, f"no violation found in {module}: {source!r}"
    assert expected in violations[0].rule


@pytest.mark.parametrize(("module", "source"), [
    ("oligami_site.urls", "from django.urls import include\nfrom oversight import views\n"),
    ("oligami_site.settings", "import registration.apps\n"),
    ("registration.services", "from randomization.services import randomize\nfrom screening import models\n"),
    ("oversight.reports", "from registration import windows\nfrom screening.models import Patient\n"),
    ("registration.windows", "from datetime import date, timedelta\nfrom screening.eligibility import Verdict\n"),
    ("registration.stages", "from . import windows\nfrom enum import StrEnum\n"),
    ("screening.eligibility.performance", "from .common import Fact\nfrom __future__ import annotations\n"),
])
def test_the_checker_allows(module, source):
    assert check_module(module, source, is_package=False) == []
