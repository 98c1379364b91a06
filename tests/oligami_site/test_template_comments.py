"""Django's {# #} comment is one line only: one spread over two lines is shown on the page as text (issue 20's
screenshots found the lesion table's note printed under it). Longer comments use {% comment %}."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_template_comment_spans_lines():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")) + sorted(TEMPLATES.rglob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            start = line.find("{#")
            while start != -1:
                if "#}" not in line[start + 2:]:
                    found.append(f"{path.relative_to(TEMPLATES)}:{number}")
                start = line.find("{#", start + 2)
    assert found == []
