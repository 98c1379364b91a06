"""The CSV kit (oligami_site.csvfiles): formula-injection guard, streaming, and UTF-8 with a BOM for Excel."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from oligami_site import csvfiles


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+1", "'+1+1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-A1", "'-A1"), ("\tx", "'\tx"), ("-12.5", "-12.5"), ("P5", "P5"), (None, ""), (True, "true"),
    (dt.date(2026, 3, 2), "2026-03-02"), (Decimal("1.50"), "1.50"), (["S2", "S4"], '["S2", "S4"]'),
])
def test_cells(value, expected):
    assert csvfiles.cell(value) == expected


def test_lines_are_produced_as_rows_are_read():
    read = []

    def rows():
        for n in range(3):
            read.append(n)
            yield [n, "=x"]

    lines = csvfiles.lines(["a", "b"], rows())
    assert next(lines) == "a,b\r\n" and read == []
    assert next(lines) == "0,'=x\r\n" and read == [0]


def test_excel_gets_a_byte_order_mark_and_plain_does_not():
    plain = b"".join(csvfiles.response(iter(["a,b\r\n"]), filename="x.csv").streaming_content)
    excel = b"".join(csvfiles.response(iter(["a,b\r\n"]), filename="x.csv", excel=True).streaming_content)
    assert plain == b"a,b\r\n" and excel == b"\xef\xbb\xbfa,b\r\n"
    assert excel.decode("utf-8-sig") == "a,b\r\n"


@pytest.mark.django_db
def test_the_balance_export_goes_through_the_guard_and_offers_excel(client, statistician):
    from tests.randomization.factories import minimization_config

    minimization_config()
    client.force_login(statistician)
    plain = b"".join(client.get(reverse("randomization:balance_csv")).streaming_content)
    excel = b"".join(client.get(reverse("randomization:balance_csv") + "?excel=1").streaming_content)
    assert not plain.startswith(b"\xef\xbb\xbf") and excel.startswith(b"\xef\xbb\xbf")
    assert "|A-B|" in plain.decode() and excel[3:] == plain
