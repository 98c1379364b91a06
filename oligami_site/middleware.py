"""Request hardening every page shares (issue 13, "smaller holes"; docs/security.md).

- ``RejectNulMiddleware``: a NUL character anywhere in the path, the query string, a form field (name or
  value) or a cookie answers **400** with a page that says so, before any view runs. PostgreSQL refuses a
  NUL in a text value ("PostgreSQL text fields cannot contain NUL"), so a NUL that reached a query was a
  server error (the outside attack's ``GET /calendar/%00.ics`` and ``POST /accounts/locked/``); no form of
  this site has a use for one, so refusing it whole is both safe and clear. Views keep their own
  validation: this only takes the one character the database cannot hold off the table.
- ``NoStoreMiddleware``: every answer to a signed-in user carries ``Cache-Control: no-store`` (and
  Django's other never-cache headers): pages, downloads (streamed CSV included) and redirects. The site is
  used on shared ward computers, where a browser's cache or its back button must not show the next
  person a patient's record after the first one logged out or their session ended.
"""

from importlib import import_module

from django.conf import settings
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

NUL = "\x00"


def _has_nul(querydict) -> bool:
    return any(NUL in key or any(NUL in value for value in values if isinstance(value, str))
               for key, values in querydict.lists())


def has_nul(request) -> bool:
    if NUL in request.path or NUL in request.path_info:
        return True
    if _has_nul(request.GET) or any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
        return True
    if request.method == "POST":
        try:
            return _has_nul(request.POST)
        except (MultiPartParserError, OSError, ValueError):
            return False  # a broken body: the view's own handling (an empty form) answers it, as before
    return False


class RejectNulMiddleware:
    """A NUL character in the request: 400 and a page that names it (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_nul(request):
            if NUL in request.COOKIES.get(settings.SESSION_COOKIE_NAME, ""):
                # A fresh, empty session in place of the unreadable one: SessionMiddleware would look the
                # key up on the way back (and fail the same way); an empty session deletes the cookie.
                request.session = import_module(settings.SESSION_ENGINE).SessionStore()
            return render(request, "400.html", {"reason": "nul"}, status=400)
        return self.get_response(request)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every answer to a signed-in user (see the module docstring).

    Listed after AuthenticationMiddleware: ``request.user`` is known on the way back, also after the login
    view made the user signed-in; an answer that set its own cache headers (the calendar feed, which needs
    no login) keeps them and gets no-store added.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
