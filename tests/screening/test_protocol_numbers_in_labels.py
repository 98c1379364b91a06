"""Each protocol number once (issue 14): the day counts of P16/S8, S3 and S4 are written in
screening/eligibility/common.py (registration/windows.py names them), and a translated label takes them as
a parameter ("Laboratory values within %(days)s days before registration"), never as literal text.

The check reads every translatable string of screening/ and registration/ (Python: the literal arguments of
_, gettext, gettext_lazy, ngettext, pgettext, ... calls; templates: {% translate %} and
{% blocktranslate %}) and fails on one of those numbers standing alone.
"""

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext

from registration import windows
from screening import eligibility as rules

ROOT = Path(__file__).resolve().parents[2]
APPS = ("screening", "registration")
PROTOCOL_DAYS = sorted({rules.LAB_WINDOW_DAYS, rules.EVALUATION_WINDOW_DAYS, *rules.SECONDARY_WINDOW_DAYS,
                        windows.EARLIEST_USEFUL_EVALUATION_DAY})
TRANSLATING = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "pgettext",
               "pgettext_lazy", "npgettext", "npgettext_lazy"}
# Not a protocol day count, though the same digits:
ALLOWED = (
    re.compile(r"\b\d+ (January|February|March|April|May|June|July|August|September|October|November|December)\b"),
    # E4's own period after delivery (not a window the engine computes). Its title is stored in every
    # verdict snapshot as a word to translate when the snapshot is read (verdicts.py, labels), so its msgid
    # must stay as it is or the stored snapshots would lose their Japanese.
    re.compile(r"within 28 days after delivery"),
)
TRANSLATED_IN_TEMPLATE = re.compile(
    r"{%\s*translate\s+(\"[^\"]*\"|'[^']*')|{%\s*blocktranslate\b[^%]*%}(.*?){%\s*endblocktranslate\s*%}", re.S)


def literal_numbers(text: str, numbers=PROTOCOL_DAYS) -> list[int]:
    for allowed in ALLOWED:
        text = allowed.sub("", text)
    alone = r"(?<![\w.,/%(-])({})(?![\w.,/])".format("|".join(str(n) for n in numbers))
    return [int(m) for m in re.findall(alone, text)]


def python_strings(source: str, filename: str = "<test>"):
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in TRANSLATING:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield node.lineno, arg.value


def template_strings(source: str):
    for match in TRANSLATED_IN_TEMPLATE.finditer(source):
        yield source.count("\n", 0, match.start()) + 1, match.group(1) or match.group(2)


def _files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path
        yield from sorted((ROOT / "templates" / app).rglob("*.html"))
        yield from sorted((ROOT / "templates" / app).rglob("*.txt"))


def offences(path: Path) -> list[str]:
    source = path.read_text()
    strings = python_strings(source, str(path)) if path.suffix == ".py" else template_strings(source)
    return [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in strings if literal_numbers(text)]


def test_the_numbers_are_the_modules():
    assert PROTOCOL_DAYS == [14, 28, 56, 84, 126]


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_protocol_day_count_is_literal_in_a_translated_string(path):
    assert offences(path) == []


def test_the_check_finds_a_literal_number_and_passes_a_parameter():
    source = ('x = _("Secondary registration 84 to 126 days after primary registration")\n'
              'y = gettext("Labs within %(days)s days; day %(day)s; 28 February; P14; 1.14 mg")\n'
              'z = not_translated("within 14 days")\n')
    found = [(line, literal_numbers(text)) for line, text in python_strings(source)]
    assert [f for f in found if f[1]] == [(1, [84, 126])]
    html = '{% translate "Labs within 14 days" %} {% blocktranslate %}day {{ day }} of 126{% endblocktranslate %}'
    assert [literal_numbers(text) for _line, text in template_strings(html)] == [[14], [126]]


def test_titles_render_as_before():
    # The English text is what the literal said; the Japanese catalogue has the same placeholders.
    assert rules.CRITERIA["P16"].text() == "Laboratory values within 14 days before registration"
    assert rules.CRITERIA["S3"].text() == "Secondary registration within 28 days of the response evaluation"
    assert rules.CRITERIA["S4"].text() == "Secondary registration 84 to 126 days after primary registration"
    assert rules.CRITERIA["S8"].text() == "Laboratory values within 14 days before secondary registration"
    with translation.override("ja"):
        assert rules.CRITERIA["P16"].text(gettext) == "登録前14日以内の臨床検査値が規準を満たす"
        assert rules.CRITERIA["S3"].text(gettext) == "効果判定から28日以内の二次登録"
        assert rules.CRITERIA["S4"].text(gettext) == "一次登録から84〜126日目の二次登録"
        assert rules.CRITERIA["S8"].text(gettext) == "二次登録前14日以内の臨床検査値が規準を満たす"
