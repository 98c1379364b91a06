"""CSV files, one way for every app: cells safe from formula injection, rows streamed, Excel's encoding.

    from oligami_site import csvfiles

    lines = csvfiles.lines(header, rows)                 # rows: iterables of values, read lazily
    return csvfiles.response(lines, filename="oligami-balance.csv", excel=csvfiles.wants_excel(request))

- `cell`: ISO dates, Tokyo times, JSON for lists and dicts, true/false; a cell starting with = + - @ (or
  a tab or a carriage return) is quoted with a leading apostrophe, because spreadsheets run it as a
  formula (CSV injection). A negative number stays a number.
- `labelled(header, rows, labels)`: the Excel variant of an export shows the label of each code of the columns
  it names, in the reader's language (issue 20); the plain CSV keeps the codes (docs/data-management.md,
  "Codes and labels").
- `response` streams (StreamingHttpResponse), so 100,000 rows never sit in memory at once.
- `excel=True` (the `?excel=1` links): UTF-8 with a byte order mark. Japanese Excel opens plain UTF-8 as
  Shift_JIS and garbles every Japanese cell; with the BOM it reads UTF-8. Without it, plain UTF-8 for
  everything else (R, Python, SAS read a BOM as part of the first column's name).
"""

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a streamed response."""

    def write(self, value):
        return value


def cell(value) -> str:
    """One CSV cell (see the module's docstring)."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dt.datetime):
        text = timezone.localtime(value).isoformat(timespec="seconds")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if text[:1] in FORMULA_STARTS and not (text[:1] == "-" and _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The header and every row as CSV lines, each cell through `cell`, produced as they are read."""
    writer = csv.writer(_Echo())
    yield writer.writerow([cell(v) for v in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def labelled(header: Iterable, rows: Iterable[Iterable], labels: Mapping[str, Mapping[str, str]]) -> Iterator:
    """The rows with the codes of the columns named in `labels` ({column: {code: label}}) replaced by their
    labels; other columns, empty cells and codes without a label stay as they are. Build `labels` in the view
    (the request's language is active there, not while the response streams)."""
    where = [(n, labels[name]) for n, name in enumerate(header) if name in labels]
    for row in rows:
        if where:
            row = list(row)
            for n, mapping in where:
                if row[n] is not None and str(row[n]) in mapping:
                    row[n] = mapping[str(row[n])]
        yield row


def wants_excel(request) -> bool:
    """The "for Excel" links add ?excel=1."""
    return request.GET.get("excel") == "1"


def response(csv_lines: Iterable[str], *, filename: str, excel: bool = False) -> StreamingHttpResponse:
    """A streamed CSV download; `excel`: UTF-8 with a byte order mark (see the module's docstring)."""
    if excel:
        csv_lines = _with_bom(csv_lines)
    result = StreamingHttpResponse(csv_lines, content_type="text/csv; charset=utf-8")
    result["Content-Disposition"] = f'attachment; filename="{filename}"'
    return result


def _with_bom(csv_lines: Iterable[str]) -> Iterator[str]:
    yield BOM
    yield from csv_lines
