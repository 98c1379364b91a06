"""Content-Security-Policy without inline code, and the other protective headers (issue 8)."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pages_carry_csp_and_protective_headers(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_script_or_style():
    """The policy forbids inline code; a template that relies on it would silently break in browsers."""
    offences = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", text):
            offences.append(f"{path.relative_to(ROOT)}: inline {match.group(0)}")
        for match in re.finditer(r"\sstyle=\"", text):
            offences.append(f"{path.relative_to(ROOT)}: style attribute at {match.start()}")
        for match in re.finditer(r"\son[a-z]+=\"", text):
            offences.append(f"{path.relative_to(ROOT)}: inline event handler {match.group(0).strip()}")
    assert not offences, "\n".join(offences)
