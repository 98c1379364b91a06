"""Every message of the application has a Japanese translation, and the committed catalogue is up to date.

`make messages` extracts the strings into locale/ja/LC_MESSAGES/django.po and compiles django.mo. This
test does the same on a copy of the source tree in tmp_path (makemessages rewrites the .po in place, and
the working tree must not change), with the Makefile's own ignore list, then fails when:
- a message has no translation, or only a fuzzy one (a new string, or one whose English changed);
- a translation lost or invented a placeholder (%(name)s, %s, {name});
- compilemessages (msgfmt --check-format) refuses the catalogue;
- the committed django.mo does not hold exactly the translations of the fresh catalogue (not recompiled).
Needs GNU gettext (installed by .ci/run); skipped without it locally, failed in CI. See docs/i18n.md.
"""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
PO = Path("locale/ja/LC_MESSAGES/django.po")
MO = PO.with_suffix(".mo")
SOURCE_SUFFIXES = {".py", ".html", ".txt"}  # what makemessages reads for the "django" domain
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\d+)?(?:\.\d+)?([diouxXeEfFgGcrs])|\{(\w*)\}")
FIX = "Run `make messages`, translate the entries named here in locale/ja/LC_MESSAGES/django.po " \
      "(docs/i18n.md), and run `make messages` again."


def _ignores() -> list[str]:
    match = re.search(r"^MAKEMESSAGES_IGNORE\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "Makefile: MAKEMESSAGES_IGNORE is gone; the check must extract what `make messages` does"
    return match.group(1).split()


def _copy_sources(destination: Path, ignored: set[str]) -> None:
    """The files makemessages would read (and the catalogue it merges into), nothing else."""
    for directory, subdirectories, files in os.walk(ROOT):
        here = Path(directory)
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d not in ignored]
        for name in files:
            path = here / name
            relative = path.relative_to(ROOT)
            if path.suffix in SOURCE_SUFFIXES or relative == PO:
                (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination / relative)


def parse_po(text: str) -> list[dict]:
    """A small .po reader: msgctxt, msgid, msgid_plural, msgstr[n], flags, references; no obsolete entries."""
    entries, entry, key = [], None, None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if entry is not None and not entry["obsolete"]:
                entries.append(entry)
            entry, key = None, None
            continue
        if entry is None:
            entry = {"flags": set(), "refs": [], "msgctxt": None, "msgid": "", "msgid_plural": None,
                     "msgstr": {}, "obsolete": False}
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#:"):
            entry["refs"].extend(line[2:].split())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if key[0] == "msgstr":
                entry["msgstr"][key[1]] += value
            else:
                entry[key[0]] += value
        else:
            keyword, _, literal = line.partition(" ")
            value = ast.literal_eval(literal)
            if keyword.startswith("msgstr"):
                key = ("msgstr", int(keyword[7:-1]) if "[" in keyword else 0)
                entry["msgstr"][key[1]] = value
            else:
                key = (keyword, None)
                entry[keyword] = value
    return entries


def placeholders(text: str) -> Counter:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text.replace("%%", "")))


def _where(entry) -> str:
    return f"{entry['msgid']!r} ({entry['refs'][0] if entry['refs'] else 'no reference'})"


def test_the_placeholder_reader():
    assert placeholders("%(n)s of %(total)s, %d%% and {x}") == Counter({"%(n)s": 1, "%(total)s": 1, "%d": 1,
                                                                         "{x}": 1})
    assert placeholders("LVEF (%) over 50%") == Counter()
    po = 'msgid ""\nmsgstr ""\n"Language: ja\\n"\n\n#: a.py:1\n#, fuzzy, python-format\nmsgid "%(n)s day"\n' \
         'msgid_plural "%(n)s days"\nmsgstr[0] ""\n"%(n)s日"\n\n#~ msgid "old"\n#~ msgstr "古い"\n'
    header, entry = parse_po(po)
    assert header["msgstr"] == {0: "Language: ja\n"}
    assert entry["flags"] == {"fuzzy", "python-format"} and entry["refs"] == ["a.py:1"]
    assert (entry["msgid"], entry["msgid_plural"], entry["msgstr"]) == ("%(n)s day", "%(n)s days", {0: "%(n)s日"})


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory):
    """makemessages + compilemessages on a copy of the tree: fresh .po entries, its .mo, compilemessages' result."""
    need(all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msgfmt")),
         "GNU gettext (xgettext, msgmerge, msgfmt: apt-get install gettext)")
    copy = tmp_path_factory.mktemp("messages")
    ignores = _ignores()
    _copy_sources(copy, {option.split("=", 1)[1] for option in ignores})
    assert (copy / PO).exists(), f"{PO} is missing: run `make messages`"
    env = {**os.environ, "OLIGAMI_VAR_DIR": str(copy / "var"), "STATIC_ROOT": str(copy / "staticfiles"),
           "DJANGO_SETTINGS_MODULE": "oligami_site.settings"}
    extract, compile_ = (
        subprocess.run([sys.executable, "manage.py", *command], cwd=copy, env=env, capture_output=True, text=True,
                       timeout=120)
        for command in (["makemessages", "-l", "ja", "--no-obsolete", *ignores],
                        ["compilemessages", "-l", "ja", "--ignore=.venv"]))
    assert extract.returncode == 0, f"makemessages failed:\n{extract.stdout}\n{extract.stderr}"
    return parse_po((copy / PO).read_text(encoding="utf-8")), copy / MO, compile_


def test_every_message_has_a_japanese_translation(fresh_catalogue):
    entries, _mo, _compiled = fresh_catalogue
    messages = [e for e in entries if e["msgid"]]
    assert len(messages) > 500, "makemessages found too few strings: is the copy of the sources complete?"
    untranslated = [_where(e) for e in messages if not all(e["msgstr"].values())]
    fuzzy = [_where(e) for e in messages if "fuzzy" in e["flags"]]
    assert not untranslated, f"{len(untranslated)} messages have no Japanese translation:\n  " + \
        "\n  ".join(untranslated) + "\n" + FIX
    assert not fuzzy, f"{len(fuzzy)} translations are fuzzy (the English changed; check and remove the " \
        "#, fuzzy line):\n  " + "\n  ".join(fuzzy) + "\n" + FIX


def test_translations_keep_every_placeholder(fresh_catalogue):
    entries, _mo, _compiled = fresh_catalogue
    wrong = []
    for e in entries:
        if not e["msgid"]:
            continue
        expected = placeholders(e["msgid_plural"] or e["msgid"])
        for translation in e["msgstr"].values():
            if translation and placeholders(translation) != expected:
                wrong.append(f"{_where(e)} -> {translation!r}")
    assert not wrong, "Translations whose placeholders differ from the English:\n  " + "\n  ".join(wrong)


def test_the_catalogue_declares_japanese_with_one_plural_form(fresh_catalogue):
    entries, _mo, _compiled = fresh_catalogue
    header = entries[0]
    assert header["msgid"] == "" and "fuzzy" not in header["flags"]
    assert "Language: ja\n" in header["msgstr"][0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"][0]


def test_compilemessages_accepts_the_catalogue(fresh_catalogue):
    *_rest, compiled = fresh_catalogue  # msgfmt --check-format: placeholders of python-format entries, plurals
    assert compiled.returncode == 0, f"compilemessages failed:\n{compiled.stdout}\n{compiled.stderr}"


def test_the_committed_mo_is_compiled_from_the_current_catalogue(fresh_catalogue):
    _entries, fresh_mo, compiled = fresh_catalogue
    assert compiled.returncode == 0, "compilemessages failed: see test_compilemessages_accepts_the_catalogue"
    committed_mo = ROOT / MO
    assert committed_mo.exists(), f"{MO} is missing: run `make messages` and commit it"

    def catalogue(path):
        with path.open("rb") as f:
            messages = dict(gettext.GNUTranslations(f)._catalog)
        messages.pop("", None)  # the header: its POT-Creation-Date changes at every extraction
        return messages

    committed, fresh = catalogue(committed_mo), catalogue(fresh_mo)
    stale = sorted({str(k) for k in committed.keys() ^ fresh.keys()}
                   | {str(k) for k in committed.keys() & fresh.keys() if committed[k] != fresh[k]})
    assert not stale, f"{MO} is not compiled from the current catalogue ({len(stale)} messages differ, e.g. " \
        f"{stale[:5]}). Run `make messages` and commit django.po and django.mo."
