"""The kit's e-mail renderer (oligami_site/mail.py, issue 14): one way to render and build every e-mail.

The messages themselves (recipients, subjects, bodies) are tested where they are sent: the reminder digest,
the randomization result and alert, the safety deadline alerts, the account links.
"""

import ast
from pathlib import Path

import pytest
from django.core.mail import EmailMultiAlternatives

from oligami_site import mail
from oligami_site.models import User

ROOT = Path(__file__).resolve().parents[2]
APPS = ["oligami_site", "screening", "randomization", "registration", "followup", "safety", "oversight"]


def _user(username, language, email=None):
    return User(username=username, email=f"{username}@x.test" if email is None else email,
                preferred_language=language)


def test_language_of_is_the_profile_else_the_default(settings):
    settings.LANGUAGE_CODE = "en"
    assert mail.language_of(_user("a", "ja")) == "ja"
    assert mail.language_of(_user("b", "")) == "en"
    assert mail.language_of(_user("c", "xx")) == "en"  # not a language of the site


def test_one_message_per_language_with_html_and_the_same_headers(settings):
    settings.SITE_URL = "https://oligami.example/"
    users = [_user("ja2", "ja"), _user("en1", "en"), _user("ja1", "ja"), _user("nomail", "en", email="")]
    messages = mail.to_users(users, "registration/email/digest", lambda: {
        "data_managers": True, "rows": [], "sections": [], "today": None, "site_url": "https://oligami.example"})
    assert [m.to for m in messages] == [["ja1@x.test", "ja2@x.test"], ["en1@x.test"]]
    ja, en = messages
    assert "データセンター" in ja.subject and "Data centre" in en.subject  # rendered in each language
    for message in messages:
        assert isinstance(message, EmailMultiAlternatives)
        assert message.from_email == settings.DEFAULT_FROM_EMAIL
        assert message.extra_headers["Message-ID"].endswith("@oligami.example>")
        assert [mimetype for _content, mimetype in message.alternatives] == ["text/html"]
        assert "\n" not in message.subject


def test_plain_text_when_there_is_no_html_template():
    message = mail.to_user(_user("a", "en"), "accounts/email/password_reset",
                           {"username": "a", "url": "https://x.test/r/", "minutes": 30})
    assert message.alternatives == [] and "https://x.test/r/" in message.body
    assert message.to == ["a@x.test"]


def _mail_builders(path: Path) -> list[str]:
    """Names in ``path`` that build or render an e-mail without the kit."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "django.core.mail":
            found += [f"{path}: imports {a.name}" for a in node.names
                      if a.name in {"EmailMessage", "EmailMultiAlternatives", "send_mail", "send_mass_mail"}]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("_subject.txt"):
            found.append(f"{path}: renders {node.value}")
    return found


@pytest.mark.parametrize("app", APPS)
def test_every_mail_goes_through_the_kit(app):
    kit = ROOT / "oligami_site" / "mail.py"
    paths = [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts and p != kit]
    assert [hit for path in paths for hit in _mail_builders(path)] == []


def test_the_check_above_finds_a_hand_built_mail(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("from django.core.mail import EmailMessage\nsubject = render('x/email/a_subject.txt')\n")
    assert len(_mail_builders(source)) == 2
