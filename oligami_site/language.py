"""The language of each signed-in user: their profile (User.preferred_language) decides pages and e-mails.

LocaleMiddleware picks a language for every request from the language cookie or the browser's
Accept-Language; that is all an anonymous visitor (the login page) gets. Once someone is signed in,
their profile wins, so a coordinator sees Japanese on any ward computer and a monitor English on hers.
The footer switcher changes the profile (``set_user_language``); anonymous visitors use Django's
``set_language``, which only sets the cookie.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


def _supported(language: str | None) -> bool:
    return bool(language) and language in dict(settings.LANGUAGES)


class UserLanguageMiddleware:
    """Activate the signed-in user's preferred language. Sits after AuthenticationMiddleware (it needs
    request.user) and after LocaleMiddleware (whose choice from cookie / Accept-Language it overrides)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and _supported(user.preferred_language):
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@login_required
@require_POST
def set_user_language(request):
    """Save the language on the signed-in user's profile (not clinical data: no audit row) and go back."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("home")
    # HttpResponseRedirect, not redirect(): redirect() would try a bare "next" value such as "0" as a URL
    # name and raise NoReverseMatch (a 500 found by the fuzz test).
    response = HttpResponseRedirect(next_url)
    if _supported(language):
        user = request.user
        if user.preferred_language != language:
            user.preferred_language = language
            user.save(update_fields=["preferred_language"])
        translation.activate(language)
        # The cookie too, so the login page after logging out stays in the language just chosen.
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response
