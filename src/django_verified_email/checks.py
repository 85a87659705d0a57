"""System checks. Ids are stable: hosts may silence them by id."""

import math
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .conf import DEFAULTS, DELIVERY_MODES, app_settings

#: Django's middleware the session epoch middleware must come after.
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


@checks.register(checks.Tags.models)
def check_user_model(app_configs=None, **kwargs):
    """W013: the profile store keeps the session epoch in the session: its middleware must run.

    Any user model works: one with ``VerifiedEmailMixin`` keeps its verified
    state itself, any other (``auth.User``) in the app's profile table.
    """
    from .middleware import PATH
    from .models import keeps_own_state

    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL, require_ready=False)
    except (LookupError, ValueError):
        return []  # Django's own auth checks report a bad AUTH_USER_MODEL.
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if keeps_own_state(user_model) or (
        PATH in middleware
        and AUTH_MIDDLEWARE in middleware
        and middleware.index(AUTH_MIDDLEWARE) < middleware.index(PATH)
    ):
        return []
    # Before AuthenticationMiddleware it wraps a request.user that
    # AuthenticationMiddleware then replaces: it would end nothing.
    return [
        checks.Warning(
            f"The user model {settings.AUTH_USER_MODEL} has no VerifiedEmailMixin, and "
            "MIDDLEWARE lacks the session epoch middleware after AuthenticationMiddleware: "
            "a completed change under LOGOUT_OTHER_SESSIONS does not end the account's "
            "other sessions.",
            hint=f"Add {PATH!r} to MIDDLEWARE, after {AUTH_MIDDLEWARE!r}.",
            obj=user_model,
            id="verified_email.W013",
        )
    ]


#: The settings that are whole numbers, and the smallest each may be.
WHOLE_NUMBERS = {
    "LINK_MAX_AGE": 1,
    "REAUTH_MAX_ATTEMPTS": 1,
    "REAUTH_LOCKOUT": 1,
    "RESEND_COOLDOWN": 0,
    "REVERT_MAX_AGE": 1,
    "CHANGE_LOCK_AFTER_REVERT": 0,
    "PURGE_AFTER": 1,
    "CLIENT_IP_PROXY_COUNT": 1,
    "CODE_MAX_AGE": 1,
    "CODE_MAX_ATTEMPTS": 1,
    "CODE_MAX_ATTEMPTS_PER_DAY": 1,
    "CHANGE_REQUESTS_PER_DAY": 1,
    "CHANGE_EMAILS_PER_DAY": 1,
}


@checks.register()
def check_settings(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict):
        return [
            checks.Error(
                "VERIFIED_EMAIL must be a dict.",
                id="verified_email.E002",
            )
        ]
    return [
        *_check_known_keys(user_values),
        *_check_whole_numbers(user_values),
        *_check_second_factor(user_values.get("RECOVERY_SECOND_FACTOR")),
        *_check_release_hook(
            user_values.get("RELEASE_UNPROVEN_HOLDER", DEFAULTS["RELEASE_UNPROVEN_HOLDER"])
        ),
        *_check_delivery_and_base_url(user_values),
        *_check_switch_and_text_settings(user_values),
    ]


def _check_known_keys(user_values):
    return [
        checks.Error(
            f"VERIFIED_EMAIL has an unknown key {key!r}.",
            hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            id="verified_email.E002",
        )
        for key in sorted(set(user_values) - set(DEFAULTS))
    ]


def _is_whole(value, minimum):
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def _check_whole_numbers(user_values):
    errors = [
        checks.Error(
            f"VERIFIED_EMAIL[{key!r}] must be a whole number of at least {minimum}.",
            id="verified_email.E003",
        )
        for key, minimum in WHOLE_NUMBERS.items()
        if not _is_whole(user_values.get(key, DEFAULTS[key]), minimum)
    ]
    delay = user_values.get("RECOVERY_DELAY", DEFAULTS["RECOVERY_DELAY"])
    if delay is not None and not _is_whole(delay, 1):
        errors.append(
            checks.Error(
                "VERIFIED_EMAIL['RECOVERY_DELAY'] must be None (the lost-mailbox path off) "
                "or a whole number of at least 1.",
                id="verified_email.E003",
            )
        )
    return errors


def _check_delivery_and_base_url(user_values):
    errors = []
    if user_values.get("DELIVERY", DEFAULTS["DELIVERY"]) not in DELIVERY_MODES:
        errors.append(
            checks.Error(
                f"VERIFIED_EMAIL['DELIVERY'] must be one of {', '.join(DELIVERY_MODES)}.",
                id="verified_email.E004",
            )
        )
    base_url = user_values.get("BASE_URL")
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("https://", "http://"))
    ):
        errors.append(
            checks.Error(
                "VERIFIED_EMAIL['BASE_URL'] must start with https:// or http://.",
                id="verified_email.E005",
            )
        )
    return errors


def _check_second_factor(path):
    """E009: ``RECOVERY_SECOND_FACTOR`` names nothing callable (None is fine)."""
    if path is None:
        return []
    try:
        callable_ = import_string(path) if isinstance(path, str) else None
    except ImportError:
        callable_ = None
    if callable(callable_):
        return []
    return [
        checks.Error(
            "VERIFIED_EMAIL['RECOVERY_SECOND_FACTOR'] must be None or the dotted path of a "
            "callable (request, user) -> bool.",
            id="verified_email.E009",
        )
    ]


def _check_release_hook(path):
    """E013: ``RELEASE_UNPROVEN_HOLDER`` names nothing callable (None is fine)."""
    if path is None:
        return []
    try:
        hook = import_string(path) if isinstance(path, str) else None
    except ImportError:
        hook = None
    if callable(hook):
        return []
    return [
        checks.Error(
            "VERIFIED_EMAIL['RELEASE_UNPROVEN_HOLDER'] must be None or the dotted path of a "
            "callable (user, address) -> bool.",
            id="verified_email.E013",
        )
    ]


# Settings that are a switch, and settings that are an optional piece of text
# (a name, a header, a URL): a wrong type fails quietly at request time, or
# (an empty string) reads as "set" where the host meant "off".
SWITCH_SETTINGS = ("CAPTURE_IP", "ALLOW_LOCAL_ADDRESSES")
TEXT_SETTINGS = ("CLIENT_IP_HEADER", "USER_TIME_ZONE", "SITE_NAME", "SUPPORT_URL")


def _check_switch_and_text_settings(user_values):
    errors = []
    for key in SWITCH_SETTINGS:
        if not isinstance(user_values.get(key, DEFAULTS[key]), bool):
            errors.append(
                checks.Error(
                    f"VERIFIED_EMAIL[{key!r}] must be True or False.", id="verified_email.E008"
                )
            )
    for key in TEXT_SETTINGS:
        value = user_values.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            errors.append(
                checks.Error(
                    f"VERIFIED_EMAIL[{key!r}] must be None or a non-empty string.",
                    id="verified_email.E008",
                )
            )
    return errors


@checks.register()
def check_delivery(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict):
        return []  # check_settings reports it.
    delivery = user_values.get("DELIVERY", DEFAULTS["DELIVERY"])
    if delivery not in ("tasks", "celery"):
        return []
    messages = []
    if delivery == "tasks":
        missing = not (find_spec("django.tasks") or find_spec("django_tasks"))
        package = "django-tasks (the backport of django.tasks for Django 5.2)"
    else:
        missing = not find_spec("celery")
        package = "Celery: install django-dual-link-email[celery]"
    if missing:
        messages.append(
            checks.Error(
                f"VERIFIED_EMAIL['DELIVERY'] is {delivery!r}, but its task framework "
                "is not installed.",
                hint=f"Install {package}.",
                id="verified_email.E006",
            )
        )
    if user_values.get("BASE_URL") is None:
        messages.append(
            checks.Warning(
                f"VERIFIED_EMAIL['DELIVERY'] is {delivery!r} and BASE_URL is not set.",
                hint=(
                    "A worker has no request to take the host from: links use the host "
                    "captured when the request was made (a change keeps it for its later "
                    "emails), and a message about no change queued without one (from a "
                    'shell) cannot be built. Set BASE_URL, e.g. "https://example.com".'
                ),
                id="verified_email.W001",
            )
        )
    return messages


# Hardening ---------------------------------------------------------------

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _recipe(field_name, database):
    """The quickstart's case-insensitive unique rule for ``database``, as a hint names it."""
    if database.expression_indexes and database.partial_indexes:
        return (
            f"Add models.UniqueConstraint(Lower({field_name!r}), "
            f"condition=~Q({field_name}=''), name=..., violation_error_code='email_taken', "
            "violation_error_message=...) to its Meta.constraints"
        )
    # MariaDB has no expression indexes, neither it nor MySQL partial ones:
    # a stored column of the folded address, NULL when blank, indexed plainly.
    column = f"{field_name}_lower"
    return (
        f"{_database_name(database)} cannot build a Lower() constraint that lets blank "
        f"addresses repeat. Add the field {column} = models.GeneratedField("
        f"expression=NullIf(Lower({field_name!r}), Value('')), "
        "output_field=models.CharField(max_length=254, null=True), db_persist=True) "
        f"and models.UniqueConstraint(fields=[{column!r}], name=..., "
        "violation_error_code='email_taken', violation_error_message=...) to its "
        "Meta.constraints"
    )


def _database_name(database):
    return {"mysql": "MariaDB or MySQL"}.get(database.vendor, f"The {database.vendor} database")


def email_unique_warnings(user_model):
    """W002 for ``user_model``: its address needs a case-insensitive unique rule."""
    from . import indexes

    if indexes.email_unique_rule(user_model) is not None:
        return []
    field_name = user_model.get_email_field_name()
    return [
        checks.Warning(
            f"The user model {user_model._meta.label} has no case-insensitive unique "
            f"constraint on its email field {field_name!r}.",
            hint=(
                f"{_recipe(field_name, indexes.capabilities(user_model))}, then "
                "makemigrations (the quickstart shows it). The app's flows lock rows so "
                "they never give one address to two accounts, but only the database can "
                "stop other code paths (admin, imports) from doing it."
            ),
            obj=user_model,
            id="verified_email.W002",
        )
    ]


def email_index_warnings(user_model):
    """W006 for ``user_model``: no index can serve the "address taken?" lookup."""
    from . import indexes

    if indexes.email_index(user_model) is not None:
        return []
    field_name = user_model.get_email_field_name()
    return [
        checks.Warning(
            f"No index of the user model {user_model._meta.label} can serve the "
            f'"address taken?" lookup on its email field {field_name!r}: each change '
            "reads the whole user table.",
            hint=(
                f"{_recipe(field_name, indexes.capabilities(user_model))}: the lookup "
                "compares with the same expression (or that column), so the "
                "constraint's own index serves it. A Lower() or Upper() index or "
                "constraint the database can build works too, unconditional or with a "
                "condition that leaves out only blank addresses."
            ),
            obj=user_model,
            id="verified_email.W006",
        )
    ]


@checks.register(checks.Tags.models)
def check_email_unique(app_configs=None, **kwargs):
    from .models import keeps_own_state

    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL, require_ready=False)
    except (LookupError, ValueError):
        return []
    if not keeps_own_state(user_model):
        # The profile store: its own table holds each proved address under a
        # unique index, which answers "taken?" and refuses a second holder.
        return []
    return email_unique_warnings(user_model) + email_index_warnings(user_model)


@checks.register(checks.Tags.caches)
def check_cache(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict) or settings.DEBUG:
        return []
    alias = user_values.get("CACHE", DEFAULTS["CACHE"])
    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        checks.Warning(
            f"VERIFIED_EMAIL['CACHE'] is {alias!r}, a {backend.rsplit('.', 1)[-1]}: "
            "resend cooldowns do not hold across processes.",
            hint=(
                "Each worker process keeps its own cooldowns, so one account can have "
                "a link sent once per process every RESEND_COOLDOWN. Point CACHE at a "
                "shared cache (Redis, Memcached, the database or file cache). Password "
                "lockouts are kept in the database whatever the cache."
            ),
            id="verified_email.W003",
        )
    ]


@checks.register(checks.Tags.security)
def check_link_host(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict) or settings.DEBUG or user_values.get("BASE_URL"):
        return []
    # A leading dot accepts every subdomain: a request for one that someone
    # else serves (a customer's site, a forgotten DNS record) puts links there.
    open_entries = [h for h in settings.ALLOWED_HOSTS if h == "*" or h.startswith(".")]
    if not open_entries:
        return []
    return [
        checks.Warning(
            "VERIFIED_EMAIL['BASE_URL'] is not set and ALLOWED_HOSTS accepts "
            f"{'any host' if '*' in open_entries else 'any subdomain of ' + open_entries[0]}: "
            "the links in emails point at whatever host a request names.",
            hint=(
                "Someone who knows a user's password can ask for a change with a forged "
                "Host header, and the confirmation link sent to the user's own address "
                "then leads to their site. Set BASE_URL (e.g. 'https://example.com') or "
                "list your hosts in ALLOWED_HOSTS one by one (no '*', no leading dot)."
            ),
            id="verified_email.W004",
        )
    ]


# API authentication --------------------------------------------------------


def _api_authentication_classes(value):
    """The classes ``value`` names, or None if it is not a list of importable paths."""
    from django.utils.module_loading import import_string

    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        return None
    try:
        return [import_string(path) for path in value]
    except (ImportError, TypeError, ValueError):
        return None


@checks.register(checks.Tags.security)
def check_api_authentication(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict) or "API_AUTHENTICATION_CLASSES" not in user_values:
        return []
    if not find_spec("rest_framework"):
        return []  # No API without Django REST framework: nothing uses the setting.
    from rest_framework.authentication import BasicAuthentication

    classes = _api_authentication_classes(user_values["API_AUTHENTICATION_CLASSES"])
    if classes is None:
        return [
            checks.Error(
                "VERIFIED_EMAIL['API_AUTHENTICATION_CLASSES'] must be a list of dotted "
                "paths of DRF authentication classes that can be imported.",
                hint='e.g. ["rest_framework.authentication.SessionAuthentication"].',
                id="verified_email.E007",
            )
        ]
    if not any(isinstance(cls, type) and issubclass(cls, BasicAuthentication) for cls in classes):
        return []
    return [
        checks.Warning(
            "VERIFIED_EMAIL['API_AUTHENTICATION_CLASSES'] names HTTP Basic authentication.",
            hint=(
                "Every API request then checks a password sent with it, outside the "
                "re-authentication lockout (REAUTH_MAX_ATTEMPTS): anyone can guess "
                "passwords at the speed of the status endpoint. Use session, token or "
                "JWT authentication, or rate-limit Basic in front of the app."
            ),
            id="verified_email.W005",
        )
    ]


#: The most a guesser may win over a link's whole life (docs/security.md).
CODE_GUESS_BOUND = 1 / 10_000


def code_guess_chance(values):
    """Return the chance of guessing a code within one link's life, by the settings.

    Wrong tries are limited per account over any 24 hours, whatever the
    number of codes (resends included): a link that lives ``LINK_MAX_AGE``
    sees at most that many tries per started day, each against a million
    codes, fewer by the wrong ones already tried on the same code.
    """
    from .codes import SPACE

    days = math.ceil(values["LINK_MAX_AGE"] / 86400)
    tries = values["CODE_MAX_ATTEMPTS_PER_DAY"] * days
    return tries / (SPACE - values["CODE_MAX_ATTEMPTS"] + 1)


@checks.register(checks.Tags.security)
def check_code_guessing(app_configs=None, **kwargs):
    user_values = app_settings.user_values
    if not isinstance(user_values, dict):
        return []
    values = {**DEFAULTS, **user_values}
    keys = ("LINK_MAX_AGE", "CODE_MAX_ATTEMPTS", "CODE_MAX_ATTEMPTS_PER_DAY")
    if any(
        isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 1
        for key in keys
    ):
        return []  # E003 says what to fix first.
    chance = code_guess_chance(values)
    if chance < CODE_GUESS_BOUND:
        return []
    return [
        checks.Warning(
            "With these VERIFIED_EMAIL settings, someone who holds a session and the "
            f"password has a 1 in {round(1 / chance):,} chance of guessing the old "
            "address's code during the life of its link.",
            hint=(
                "Keep it under 1 in 10,000: lower CODE_MAX_ATTEMPTS_PER_DAY, or "
                "LINK_MAX_AGE (every started day of a link's life brings a new day of "
                "tries). See the guessing bound in docs/security.md."
            ),
            id="verified_email.W007",
        )
    ]


#: djoser's serializers for ``/users/me/`` and ``/users/<id>/``, by its default settings.
DJOSER_USER_SERIALIZERS = {
    "current_user": "djoser.serializers.UserSerializer",
    "user": "djoser.serializers.UserSerializer",
}


def _djoser_writers(user_model):
    """The names of djoser's user serializers (``SERIALIZERS`` keys) that write the address."""
    configured = getattr(settings, "DJOSER", None)
    serializers = configured.get("SERIALIZERS", {}) if isinstance(configured, dict) else {}
    field = user_model.get_email_field_name()
    writers = []
    for key, default in DJOSER_USER_SERIALIZERS.items():
        path = serializers.get(key, default)
        try:
            serializer_class = import_string(path) if isinstance(path, str) else path
            fields = serializer_class().fields
        except (ImportError, AttributeError, TypeError, ValueError):
            continue  # djoser's own checks and errors report a bad setting
        if field in fields and not fields[field].read_only:
            writers.append(key)
    return writers


@checks.register(checks.Tags.security)
def check_allauth_bridge(app_configs=None, **kwargs):
    """W008: allauth is installed without the bridge, so its two records of an address drift."""
    if not apps.is_installed("allauth.account") or apps.is_installed(
        "django_verified_email.contrib.allauth"
    ):
        return []
    return [
        checks.Warning(
            "django-allauth (allauth.account) is installed without the bridge: allauth's "
            "email page and API can change the address around the dual-link flow, and "
            "an address allauth verified does not count as verified here.",
            hint=(
                'Add "django_verified_email.contrib.allauth" to INSTALLED_APPS after '
                '"allauth.account", and its middleware (docs/allauth.md).'
            ),
            id="verified_email.W008",
        )
    ]


@checks.register(checks.Tags.security)
def check_address_writers(app_configs=None, **kwargs):
    """W009: djoser's user endpoints write the address directly, bypassing the flow."""
    if not apps.is_installed("djoser"):
        return []
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
    except (LookupError, ValueError):
        return []
    writers = _djoser_writers(user_model)
    if not writers:
        return []
    return [
        checks.Warning(
            f"djoser's {' and '.join(writers)} serializer lets PATCH/PUT /users/me/ "
            "(or /users/<id>/) write the email address directly, bypassing the "
            "dual-link change.",
            hint=(
                "Make the address read-only there (a serializer of your own in "
                "DJOSER['SERIALIZERS'] with the email field in read_only_fields) and "
                "send changes through this app's change endpoint. A direct write is "
                "unverified and ends the account's sessions; see docs/faq.md, "
                '"Other ways to write the address".'
            ),
            id="verified_email.W009",
        )
    ]


@checks.register()
def check_access_revokers(app_configs=None, **kwargs):
    """E010: an ``ACCESS_REVOKERS`` entry that does not import or is not callable."""
    value = app_settings.user_values.get("ACCESS_REVOKERS") if _is_dict_setting() else None
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return [
            checks.Error(
                "VERIFIED_EMAIL['ACCESS_REVOKERS'] must be None or a list of dotted paths.",
                hint='e.g. ["django_verified_email.revokers.drf_tokens", "myapp.revoke"].',
                id="verified_email.E010",
            )
        ]
    errors = []
    for path in value:
        try:
            revoker = import_string(path) if isinstance(path, str) else None
        except ImportError:
            revoker = None
        if not callable(revoker):
            errors.append(
                checks.Error(
                    f"VERIFIED_EMAIL['ACCESS_REVOKERS'] names {path!r}, which does not import "
                    "as a callable (user, *, since).",
                    hint=(
                        "A take-back could not end that way into the account. Fix the path, "
                        "or remove it."
                    ),
                    id="verified_email.E010",
                )
            )
    return errors


@checks.register()
def check_reauthenticate(app_configs=None, **kwargs):
    """E012: ``REAUTHENTICATE`` names nothing of the ``SecondFactor`` shape (None is fine)."""
    path = app_settings.user_values.get("REAUTHENTICATE") if _is_dict_setting() else None
    if path is None:
        return []
    try:
        found = import_string(path) if isinstance(path, str) else None
    except ImportError:
        found = None
    if found is not None and all(
        callable(getattr(found, name, None)) for name in ("is_enabled", "passed", "verify")
    ):
        return []
    return [
        checks.Error(
            f"VERIFIED_EMAIL['REAUTHENTICATE'] names {path!r}, which does not import as a "
            "second factor (is_enabled, passed and verify).",
            hint=(
                "A change request could not ask for that second factor. Give the dotted path "
                "of a class of the django_verified_email.second_factor.SecondFactor shape, "
                "or None."
            ),
            id="verified_email.E012",
        )
    ]


def _is_dict_setting():
    return isinstance(app_settings.user_values, dict)


def _drf_authentication_paths():
    """The dotted paths of the host's and the app's DRF authentication classes."""
    drf = getattr(settings, "REST_FRAMEWORK", None) or {}
    paths = list(drf.get("DEFAULT_AUTHENTICATION_CLASSES", ()) if isinstance(drf, dict) else ())
    return [*paths, *app_settings.API_AUTHENTICATION_CLASSES]


@checks.register(checks.Tags.security)
def check_jwt_blacklist(app_configs=None, **kwargs):
    """W010: simplejwt in use without its blacklist: a take-back cannot end its tokens."""
    if not _is_dict_setting():
        return []
    uses_jwt = apps.is_installed("rest_framework_simplejwt") or any(
        isinstance(path, str) and path.startswith("rest_framework_simplejwt.")
        for path in _drf_authentication_paths()
    )
    if not uses_jwt or apps.is_installed("rest_framework_simplejwt.token_blacklist"):
        return []
    return [
        checks.Warning(
            "Simple JWT is in use without its blacklist app: JWTs outlive a revert "
            "or a deny until they expire.",
            hint=(
                'Add "rest_framework_simplejwt.token_blacklist" to INSTALLED_APPS and '
                "migrate: a take-back then blacklists every outstanding refresh token "
                "of the account."
            ),
            id="verified_email.W010",
        )
    ]


#: The DRF authentication classes a browser's session is read by.
SESSION_ONLY = ("rest_framework.authentication.SessionAuthentication",)


@checks.register(checks.Tags.security)
def check_api_reads_the_hosts_tokens(app_configs=None, **kwargs):
    """W011: the host's API authenticates by token or JWT, this app's by session only."""
    if not _is_dict_setting() or "API_AUTHENTICATION_CLASSES" in app_settings.user_values:
        return []
    drf = getattr(settings, "REST_FRAMEWORK", None) or {}
    host = drf.get("DEFAULT_AUTHENTICATION_CLASSES", ()) if isinstance(drf, dict) else ()
    others = [
        path
        for path in host
        if isinstance(path, str)
        and path not in SESSION_ONLY
        and path != "rest_framework.authentication.BasicAuthentication"
    ]
    if not others:
        return []
    return [
        checks.Warning(
            "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] authenticates by "
            f"{', '.join(others)}, but this app's API accepts sessions only.",
            hint=(
                "A token or JWT client gets 403 not_authenticated from it. Set "
                "VERIFIED_EMAIL['API_AUTHENTICATION_CLASSES'] to the classes it should "
                f"accept, e.g. {[*SESSION_ONLY, *others]!r} (not HTTP Basic: W005)."
            ),
            id="verified_email.W011",
        )
    ]


# The scheduler -------------------------------------------------------------


@checks.register(checks.Tags.database)
def check_complete_due_runs(app_configs=None, databases=None, **kwargs):
    """W012: due recoveries wait and ``verified_email_complete_due`` has not run for an hour.

    Tagged ``database``: Django runs it only for ``check --database`` and
    before ``migrate``, so a plain ``check`` never needs a database.
    """
    if not databases:
        return []
    from django.db import connections, router

    from .flows import recovery
    from .models import CompleteDueRun, EmailChange

    database = router.db_for_read(CompleteDueRun)
    if database not in databases:
        return []
    # migrate runs its checks before it migrates: the tables may not exist yet.
    tables = set(connections[database].introspection.table_names())
    if not {EmailChange._meta.db_table, CompleteDueRun._meta.db_table} <= tables:
        return []
    if not recovery.scheduler_idle(using=database):
        return []
    return [
        checks.Warning(
            "Recoveries are due, but verified_email_complete_due has not run in the last hour.",
            hint=(
                "A recovery (the lost-mailbox path) completes, and its old address is "
                "reminded, only when the command runs. Schedule it every minute: cron, "
                "Celery beat (the django_verified_email.complete_due_changes task) or the "
                "tasks mode's periodic task; see the quickstart."
            ),
            id="verified_email.W012",
        )
    ]


#: Models a flow may write in its transaction besides the user's and the
#: app's own, each only where its app is installed: (app label, model name).
TAKE_BACK_MODELS = [
    ("authtoken", "Token"),  # DRF's tokens, which a take-back deletes
    ("token_blacklist", "OutstandingToken"),  # simplejwt's blacklist
    ("token_blacklist", "BlacklistedToken"),
    ("account", "EmailAddress"),  # allauth's address rows
]


def _flow_models():
    from django.contrib.auth import get_user_model

    from .models import (
        AddressLock,
        EmailChange,
        OneTimeCode,
        ReauthAttempts,
        VerifiedEmailProfile,
        WrongCode,
    )

    found = [get_user_model(), EmailChange, OneTimeCode, ReauthAttempts, WrongCode]
    found += [VerifiedEmailProfile, AddressLock]
    if apps.is_installed("django.contrib.sessions") and settings.SESSION_ENGINE in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        found.append(apps.get_model("sessions", "Session"))
    for label, name in TAKE_BACK_MODELS:
        try:
            found.append(apps.get_model(label, name))
        except LookupError:
            continue
    if find_spec("django_otp") is not None and apps.is_installed("django_otp"):
        from django_otp.models import Device

        found += [model for model in apps.get_models() if issubclass(model, Device)]
    return found


@checks.register(checks.Tags.models)
def check_one_database_per_flow(app_configs=None, **kwargs):
    """E011: the models a flow writes in one transaction go to different databases."""
    from django.db import router

    databases = {model._meta.label: router.db_for_write(model) for model in _flow_models()}
    if len(set(databases.values())) <= 1:
        return []
    routes = ", ".join(f"{label} -> {alias!r}" for label, alias in sorted(databases.items()))
    return [
        checks.Error(
            "The database router writes the models of one email flow to different databases: "
            f"{routes}.",
            hint=(
                "A flow locks and writes the user, its email change and what a take-back ends "
                "(sessions, tokens, devices) in one transaction, which cannot span databases. "
                "Route them all to one database for writing."
            ),
            id="verified_email.E011",
        )
    ]
