"""Issue 20: every CSV a page offers has its Excel (Japanese) variant next to it: UTF-8 with a byte order mark."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = [("data_manager", "oversight:exports"), ("data_manager", "oversight:data_dictionary"),
         ("data_manager", "oversight:monitoring"), ("coordinator_a", "screening:log")]


@pytest.mark.parametrize(("who", "page"), PAGES)
def test_every_csv_link_has_an_excel_variant_with_a_bom(request, client, who, page):
    client.force_login(request.getfixturevalue(who))
    html = client.get(reverse(page)).content.decode()
    links = {href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)}
    csv_paths = {link.split("?")[0] for link in links if link.split("?")[0].endswith(".csv")}
    assert csv_paths, page
    for path in csv_paths:
        excel = [link for link in links if link.split("?")[0] == path and "excel=1" in link]
        assert excel, f"{page}: {path} has no Excel variant"
        response = client.get(excel[0])
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and body.startswith("\ufeff".encode()), (page, excel[0])
