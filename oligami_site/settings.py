"""Settings for the OLIGAMI site manager, read from the environment.

Two modes:
- embedded default (nothing set): SQLite file, Celery over kombu's filesystem transport, e-mail
  written to files in var/mail. One command runs the whole app on a laptop.
- production (OLIGAMI_ENV=production): refuses to start without a real SECRET_KEY and ALLOWED_HOSTS;
  PostgreSQL from DATABASE_URL and Redis from CELERY_BROKER_URL.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("OLIGAMI_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# var/ holds the embedded database, e-mail files and the filesystem broker's queue; never committed.
for _sub in ("", "mail", "celery/queue", "celery/processed", "celery/control"):
    (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)

ENVIRONMENT = env.str("OLIGAMI_ENV", default="development")
PRODUCTION = ENVIRONMENT == "production"

# A key that is fine on a laptop and refused in production (see the check below).
_INSECURE_KEY = "django-insecure-oligami-development-only-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_KEY)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])

if PRODUCTION:
    # Refuse to start rather than run a health-data system with a guessable key or open hosts.
    if SECRET_KEY == _INSECURE_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("OLIGAMI_ENV=production needs a real SECRET_KEY (50+ random characters).")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("OLIGAMI_ENV=production needs ALLOWED_HOSTS (no '*').")
    if DEBUG:
        raise ImproperlyConfigured("OLIGAMI_ENV=production cannot run with DEBUG=True.")

INSTALLED_APPS = [
    "oligami_site.apps.OligamiSiteConfig",
    "screening.apps.ScreeningConfig",
    "randomization.apps.RandomizationConfig",
    "registration.apps.RegistrationConfig",
    "followup.apps.FollowupConfig",
    "safety.apps.SafetyConfig",
    "oversight.apps.OversightConfig",
    # Django's admin on a site that also asks for the second factor (oligami_site.two_factor).
    "oligami_site.apps.OligamiAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "bootstrap",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Response headers only, listed early so that answers given by the middleware below (the 400 of a
    # NUL, the two-factor redirects) carry them too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A NUL anywhere in the request: 400 before any view or query (PostgreSQL cannot store one; issue 13).
    "oligami_site.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: no-store on every answer to a signed-in user (shared ward computers; issue 13).
    "oligami_site.middleware.NoStoreMiddleware",
    # A signed-in user's profile language wins over the cookie / Accept-Language LocaleMiddleware chose.
    "oligami_site.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Logins from an address with many recent failures wait (oligami_site.lockout; issue 13).
    "oligami_site.lockout.AddressThrottleMiddleware",
    # Second factor: OTPMiddleware marks request.user as verified or not; TwoFactorMiddleware sends the
    # users who need it (trial-wide roles, admin staff, site users who enrolled) to enrol or verify.
    "django_otp.middleware.OTPMiddleware",
    "oligami_site.two_factor.TwoFactorMiddleware",
    # Records the request user on every historical row (audit trail).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last (django-axes): turns a lockout during the request into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oligami_site.urls"
WSGI_APPLICATION = "oligami_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oligami_site.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'oligami.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: wait for a writer instead of failing at once; IMMEDIATE transactions take the write lock
    # at BEGIN so that the select-then-insert of a number sequence cannot interleave.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode, a server-side cursor opened outside a transaction can be lost
    # between statements (docs/deployment.md, "Connection pooling"): this turns them off.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "oligami_site.User"
# django-axes first: it refuses a locked-out username before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Length and the common-password list, no composition rules (NIST SP 800-63B): composition rules push
# hospital staff towards predictable patterns and sticky notes.
# A password reset link by e-mail is good for one hour and once (Django's token; oligami_site.accounts). The
# activation link of a new account has its own token and lifetime (72 hours: accounts.ACTIVATION_VALID_HOURS).
PASSWORD_RESET_TIMEOUT = 60 * 60

# Languages and time: the app ships in English and Japanese; dates are stored in UTC and shown in Tokyo.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION  # development serves straight from the apps, no collectstatic
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# History: never let simple-history invent a user; the request middleware sets it.
SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False
SIMPLE_HISTORY_REVERT_DISABLED = True  # history is read-only everywhere (no revert in the admin)

# E-mail: files in var/mail by default (open them to see what would have been sent); SMTP from EMAIL_URL.
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OLIGAMI data centre <oligami@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Cache: Django's per-process memory unless CACHE_URL names a shared one (e.g. redis://host:6379/2). The
# rate limits of password reset and set-up e-mails count there (oligami_site.accounts): with several web
# processes, a shared cache makes them hold across processes (docs/security.md).
if "CACHE_URL" in env:
    CACHES = {"default": env.cache("CACHE_URL")}

# Celery: Redis in production; kombu's filesystem transport by default (no server to install).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Well above the longest task retry backoff, so a slow task is not redelivered while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
# Exactly one beat process runs in a deployment (deploy/Procfile): it starts the daily reminder scan.
CELERY_BEAT_SCHEDULE = {
    "daily-reminders": {"task": "registration.tasks.daily_reminders", "schedule": crontab(hour=8, minute=0)},
    # "Has today's job run?" every hour after it: a firing lost to a broker outage (beat does not resend
    # it) runs at the first check the broker carries (registration.reminders.catch_up; docs/reminders.md).
    "reminders-catch-up": {"task": "registration.tasks.catch_up_reminders",
                           "schedule": crontab(hour="8-23", minute=30)},
    # Before the digests, so that the day's new data queries are in them.
    "daily-checks": {"task": "oversight.tasks.daily_checks", "schedule": crontab(hour=7, minute=30)},
    # Expired export files deleted (their download answers 404 from the expiry on anyway).
    "exports-purge": {"task": "oversight.tasks.purge_exports", "schedule": crontab(minute=15)},
    # Expedited safety reports: a deadline 24 hours away or passed is e-mailed within minutes, at any hour
    # (safety/deadlines.py; SAFETY.md "Deadlines"), not in the next morning's digest.
    "scan-safety-deadlines": {"task": "safety.tasks.scan_deadlines", "schedule": crontab(minute="*/5")},
}
# A worker that loses Redis keeps trying to reconnect instead of giving up after 100 attempts; when kombu
# crashes the worker instead (an unacknowledged message being restored while Redis is down), the process
# exits with status 1 and its supervisor restarts it (deploy/systemd: Restart=always).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

# Exports written by a worker (oversight/export_jobs.py): the folder must be shared by the workers and the
# web machines (docs/deployment.md, "Several web and worker machines"); files expire after EXPORT_TTL_HOURS.
EXPORT_DIR = Path(env.str("OLIGAMI_EXPORT_DIR", default=str(VAR_DIR / "exports")))
EXPORT_TTL_HOURS = env.int("OLIGAMI_EXPORT_TTL_HOURS", default=24)

# Sections that apps above registration add to the daily digest e-mail (registration/reminders.py).
OLIGAMI_DIGEST_SECTIONS = ["oversight.digest.data_queries", "followup.digest.assessments", "followup.digest.surveys",
                           "followup.reconsent.digest_section", "oversight.digest.enrolment_requests"]
# The patient list's next-deadline column (screening/deadlines.py): each source answers for the page's patients
# at its stages; the nearest date wins, the first listed on a tie.
OLIGAMI_PATIENT_DEADLINE_SOURCES = ["registration.selectors.patient_list_deadlines",
                                    "followup.selectors.patient_list_deadlines",
                                    "safety.selectors.patient_list_deadlines"]
# Checks every audited change of an existing record passes (oligami_site.auditing): a data lock refuses edits
# of the records it covers until a data manager unlocks with a reason.
OLIGAMI_WRITE_GUARDS = ["oversight.cutoffs.refuse_edits_of_locked_records"]

# How long the reports keep a computed classification at most (oligami_site.dataversion): it is reused only
# while no audited write has committed since; the limit covers writes made outside the application. 0 = off.
OLIGAMI_REPORTS_CACHE_SECONDS = env.int("OLIGAMI_REPORTS_CACHE_SECONDS", default=600)
# The reports' per-patient classification is patched with what each commit changed (dataversion.kept) and
# rebuilt from scratch on a new day and after this many seconds: the limit for writes made outside the application.
OLIGAMI_REPORTS_REBASE_SECONDS = env.int("OLIGAMI_REPORTS_REBASE_SECONDS", default=3600)

# Demo data password (seed_demo): from the environment, else generated once and kept in var/.
OLIGAMI_DEMO_PASSWORD = env.str("OLIGAMI_DEMO_PASSWORD", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy: everything from this server only, no inline scripts or styles anywhere
# (templates use static files; charts are inline SVG with presentation attributes, not style=).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Bootstrap's CSS draws its small icons from data: URIs
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Sessions end after 30 minutes without a request (health data on shared ward computers).
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True

# Brute force (django-axes; docs/security.md). Locked by USERNAME only: hospital staff share one NAT
# address, so an address is never locked (it is slowed down instead, below). 5 failures (logins, wrong
# signature passwords, wrong one-time codes) lock the username until a data manager unlocks it
# (accounts/locked/, audited as an AccessEvent) or 30 minutes after the last failure; a complete login
# (password and, where needed, second factor) resets the count (oligami_site.lockout).
AXES_ENABLED = True
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)  # a locked account unlocks itself (issue 13)
# A refused try while locked does not restart the 30 minutes (axes' default does): "30 minutes after the
# last counted failure", as the locked-out page says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Per address, across usernames (oligami_site.lockout.AddressThrottleMiddleware): after 10 failed logins
# from one address within an hour, each further login from it waits 15 s, 30 s, 1 min... at most
# 15 minutes after the address's last failure. A ward behind one NAT address is slowed, never locked.
OLIGAMI_ADDRESS_WINDOW = timedelta(hours=1)
OLIGAMI_ADDRESS_FREE_FAILURES = 10
OLIGAMI_ADDRESS_FIRST_DELAY = timedelta(seconds=15)
OLIGAMI_ADDRESS_MAX_DELAY = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = False  # reset by oligami_site.lockout after the second factor, not after the password
AXES_LOCKOUT_CALLABLE = "oligami_site.lockout.lockout_response"
AXES_USERNAME_CALLABLE = "oligami_site.lockout.axes_username"  # cut to User.username's length (PostgreSQL)
AXES_ENABLE_ADMIN = False  # deleting attempts in the admin would unlock without an audit record
AXES_DISABLE_ACCESS_LOG = True  # successful logins are recorded once, as AccessEvents (oligami_site.audit)
AXES_VERBOSE = False  # no start-up banner in every manage.py command
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "token", "otp_token"]
# axes.W006 asks for the address among the lockout parameters. Deliberately not: the count is per username
# over every address and browser (so rotating them gains nothing against one account), and an address
# lock would shut a whole hospital behind its NAT out. Spraying many usernames from one address is met by
# the per-address delay above, the password rules (12+ characters, no common passwords) and the second
# factor of the trial-wide roles.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Two-factor authentication (django-otp, TOTP): required for data managers, statisticians and admin staff,
# optional for site users (oligami_site.two_factor).
OTP_TOTP_ISSUER = "OLIGAMI"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret key
