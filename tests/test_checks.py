"""System checks: stable ids for a missing mixin, bad settings, a non-unique address (W002),
a process-local cache (W003), bad hardening numbers (E003), links on any host (W004),
an address lookup no index serves (W006) and guessable codes (W007)."""

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import checks
from django.core.management import call_command
from django.db import connection, models
from django.db.models.functions import Lower, NullIf, Upper
from django.test import override_settings
from django.test.utils import isolate_apps

from django_verified_email import indexes
from django_verified_email.checks import (
    check_cache,
    check_code_guessing,
    check_email_unique,
    check_settings,
    check_user_model,
    code_guess_chance,
    email_index_warnings,
    email_unique_warnings,
)
from django_verified_email.indexes import Capabilities, email_index
from django_verified_email.models import VerifiedEmailMixin


def ids(messages):
    return [message.id for message in messages]


def test_the_test_settings_pass_every_check():
    assert check_user_model() == []
    assert check_settings() == []
    errors = [
        message
        for message in checks.run_checks()
        if message.id.startswith("verified_email.") and message.level >= checks.ERROR
    ]
    assert errors == []


@override_settings(AUTH_USER_MODEL="testapp.PlainUser", MIDDLEWARE=[])
def test_a_user_model_without_the_mixin_is_accepted_but_needs_the_epoch_middleware():
    # No E001 any more: the profile store keeps the state. Without the
    # middleware a completed change could not end the other sessions.
    [warning] = check_user_model()

    assert warning.id == "verified_email.W013"
    assert warning.level == checks.WARNING
    assert "testapp.PlainUser" in warning.msg
    assert "django_verified_email.middleware.SessionEpochMiddleware" in warning.hint


AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
EPOCH = "django_verified_email.middleware.SessionEpochMiddleware"


@override_settings(AUTH_USER_MODEL="testapp.PlainUser", MIDDLEWARE=[AUTH, EPOCH])
def test_a_user_model_without_the_mixin_passes_with_the_epoch_middleware():
    assert check_user_model() == []
    assert check_email_unique() == []


@override_settings(AUTH_USER_MODEL="testapp.PlainUser", MIDDLEWARE=[EPOCH, AUTH])
def test_the_epoch_middleware_before_authentication_is_reported():
    # AuthenticationMiddleware would replace the request.user it wraps.
    [warning] = check_user_model()

    assert warning.id == "verified_email.W013"
    assert "after 'django.contrib.auth.middleware.AuthenticationMiddleware'" in warning.hint


@override_settings(AUTH_USER_MODEL="testapp.DoesNotExist")
def test_an_unknown_user_model_is_left_to_djangos_own_check():
    assert check_user_model() == []


def test_e002_when_the_setting_is_not_a_dict(settings):
    settings.VERIFIED_EMAIL = ["LINK_MAX_AGE", 60]

    assert ids(check_settings()) == ["verified_email.E002"]


def test_e002_for_an_unknown_key(settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 60, "LINK_MAXAGE": 60}

    [error] = check_settings()

    assert error.id == "verified_email.E002"
    assert "'LINK_MAXAGE'" in error.msg
    assert "LINK_MAX_AGE" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LINK_MAX_AGE", 0),
        ("LINK_MAX_AGE", -1),
        ("LINK_MAX_AGE", "86400"),
        ("LINK_MAX_AGE", 1.5),
        ("LINK_MAX_AGE", None),
        ("REAUTH_MAX_ATTEMPTS", 0),
        ("REAUTH_MAX_ATTEMPTS", True),
        ("REAUTH_LOCKOUT", 0),
        ("RESEND_COOLDOWN", -1),
    ],
)
def test_e003_for_a_bad_number(settings, key, value):
    settings.VERIFIED_EMAIL = {key: value}

    [error] = check_settings()

    assert error.id == "verified_email.E003"
    assert repr(key) in error.msg


@pytest.mark.parametrize("value", [0, -1, "1", True, 1.5])
def test_e003_for_a_bad_proxy_count(settings, value):
    settings.VERIFIED_EMAIL = {"CLIENT_IP_PROXY_COUNT": value}

    assert ids(check_settings()) == ["verified_email.E003"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CAPTURE_IP", "yes"),
        ("CAPTURE_IP", None),
        ("CLIENT_IP_HEADER", ""),
        ("CLIENT_IP_HEADER", ["X-Forwarded-For"]),
        ("USER_TIME_ZONE", ""),
        ("USER_TIME_ZONE", 5),
        ("ALLOW_LOCAL_ADDRESSES", "no"),
        ("SITE_NAME", ""),
        ("SITE_NAME", 42),
        ("SUPPORT_URL", ["https://example.com/help/"]),
    ],
)
def test_e008_for_a_setting_of_the_wrong_type(settings, key, value):
    settings.VERIFIED_EMAIL = {key: value}

    [error] = check_settings()

    assert error.id == "verified_email.E008"
    assert repr(key) in error.msg


def test_good_request_context_settings(settings):
    settings.VERIFIED_EMAIL = {
        "CAPTURE_IP": False,
        "CLIENT_IP_HEADER": "X-Forwarded-For",
        "CLIENT_IP_PROXY_COUNT": 2,
        "USER_TIME_ZONE": "accounts.zones.of_user",
    }

    assert check_settings() == []


def test_a_zero_cooldown_is_allowed(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}

    assert check_settings() == []


@pytest.mark.parametrize("value", ["async", "", None, "SYNC"])
def test_e004_for_an_unknown_delivery(settings, value):
    settings.VERIFIED_EMAIL = {"DELIVERY": value}

    assert ids(check_settings()) == ["verified_email.E004"]


@pytest.mark.parametrize("value", ["example.com", "//example.com", "ftp://example.com", 42])
def test_e005_for_a_bad_base_url(settings, value):
    settings.VERIFIED_EMAIL = {"BASE_URL": value}

    assert ids(check_settings()) == ["verified_email.E005"]


@pytest.mark.parametrize("value", [None, "https://example.com", "http://localhost:8000"])
def test_good_base_urls(settings, value):
    settings.VERIFIED_EMAIL = {"BASE_URL": value}

    assert check_settings() == []


def test_several_errors_are_reported_together(settings):
    settings.VERIFIED_EMAIL = {"NOPE": 1, "LINK_MAX_AGE": 0, "DELIVERY": "x", "BASE_URL": "x"}

    assert sorted(ids(check_settings())) == [
        "verified_email.E002",
        "verified_email.E003",
        "verified_email.E004",
        "verified_email.E005",
    ]


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
    }
}


POSTGRES = Capabilities("postgresql", expression_indexes=True, partial_indexes=True)
MARIADB = Capabilities("mysql", expression_indexes=False, partial_indexes=False)


@pytest.fixture(autouse=True)
def postgres_like(monkeypatch):
    """Judge the rules as for PostgreSQL, whatever database the suite runs on."""
    monkeypatch.setattr(indexes, "capabilities", lambda model: POSTGRES)


@pytest.fixture
def mariadb(monkeypatch):
    """Judge the rules as for MariaDB: no expression, no partial indexes."""
    monkeypatch.setattr(indexes, "capabilities", lambda model: MARIADB)


def user_model(*constraints, indexes=(), fields=None):
    class Meta:
        app_label = "testapp"

    Meta.constraints = list(constraints)
    Meta.indexes = list(indexes)

    return type(
        "CheckedUser",
        (VerifiedEmailMixin, AbstractBaseUser),
        {
            "__module__": __name__,
            "Meta": Meta,
            "email": models.EmailField(blank=True),
            "username": models.CharField(max_length=150, unique=True),
            "USERNAME_FIELD": "username",
            "EMAIL_FIELD": "email",
            **(fields or {}),
        },
    )


def email_lower(**options):
    """The quickstart's MariaDB recipe: the folded address, NULL when blank."""
    return models.GeneratedField(
        expression=NullIf(Lower("email"), models.Value("")),
        output_field=models.CharField(max_length=254, null=True),
        db_persist=True,
        **options,
    )


EMAIL_LOWER_UNIQUE = models.UniqueConstraint(fields=["email_lower"], name="email_lower_unique")


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_w002_when_the_email_field_has_no_case_insensitive_unique_constraint():
    [warning] = email_unique_warnings(user_model())
    assert warning.id == "verified_email.W002"
    assert "Lower('email')" in warning.hint


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_w002_is_not_satisfied_by_a_case_sensitive_unique_constraint():
    model = user_model(models.UniqueConstraint(fields=["email"], name="email_unique"))
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


@pytest.mark.hardening
@isolate_apps("tests.testapp")
@pytest.mark.parametrize("function", [Lower, Upper])
def test_no_w002_with_a_lower_or_upper_unique_constraint(function):
    model = user_model(
        models.UniqueConstraint(
            function("email"), name="email_ci_unique", condition=~models.Q(email="")
        )
    )
    assert email_unique_warnings(model) == []


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_w002_looks_at_the_models_own_email_field():
    model = user_model(models.UniqueConstraint(Lower("username"), name="username_ci"))
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_the_w002_hint_is_the_quickstart_recipe():
    [warning] = email_unique_warnings(user_model())
    assert "condition=~Q(email='')" in warning.hint
    assert "violation_error_code='email_taken'" in warning.hint
    assert "violation_error_message" in warning.hint


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_w002_on_mariadb_when_only_a_lower_constraint_it_cannot_build_is_declared(mariadb):
    model = user_model(
        models.UniqueConstraint(Lower("email"), name="email_ci", condition=~models.Q(email=""))
    )
    [warning] = email_unique_warnings(model)
    assert warning.id == "verified_email.W002"
    # The hint names the recipe MariaDB can build.
    assert "MariaDB" in warning.hint
    assert "models.GeneratedField(expression=NullIf(Lower('email'), Value(''))" in warning.hint
    assert "db_persist=True" in warning.hint
    assert "models.UniqueConstraint(fields=['email_lower']" in warning.hint
    assert "violation_error_code='email_taken'" in warning.hint
    assert "condition=" not in warning.hint
    [warning] = email_index_warnings(model)
    assert warning.id == "verified_email.W006"
    assert "GeneratedField" in warning.hint


@pytest.mark.hardening
@isolate_apps("tests.testapp")
@pytest.mark.parametrize("database", [POSTGRES, MARIADB], ids=["postgresql", "mariadb"])
@pytest.mark.parametrize(
    "model_rules",
    [
        pytest.param(
            {"constraints": [EMAIL_LOWER_UNIQUE], "fields": {"email_lower": email_lower()}},
            id="constraint",
        ),
        pytest.param({"fields": {"email_lower": email_lower(unique=True)}}, id="unique-field"),
    ],
)
def test_no_w002_nor_w006_with_a_unique_generated_column_of_the_folded_address(
    monkeypatch, database, model_rules
):
    monkeypatch.setattr(indexes, "capabilities", lambda model: database)
    model = user_model(*model_rules.get("constraints", ()), fields=model_rules["fields"])
    assert email_unique_warnings(model) == []
    assert email_index_warnings(model) == []
    index = email_index(model)
    assert (index.fold, index.condition, index.unique, index.generated) == (
        Lower,
        None,
        True,
        "email_lower",
    )


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_on_mariadb_the_lookup_uses_the_generated_column_and_not_the_lower_constraint(mariadb):
    model = user_model(
        models.UniqueConstraint(Lower("email"), name="email_ci", condition=~models.Q(email="")),
        EMAIL_LOWER_UNIQUE,
        fields={"email_lower": email_lower()},
    )
    assert email_index(model).name == "email_lower_unique"


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_where_both_are_built_the_lookup_uses_the_lower_constraint():
    model = user_model(
        models.UniqueConstraint(Lower("email"), name="email_ci", condition=~models.Q(email="")),
        EMAIL_LOWER_UNIQUE,
        fields={"email_lower": email_lower()},
    )
    assert email_index(model).name == "email_ci"


@pytest.mark.hardening
@isolate_apps("tests.testapp")
@pytest.mark.parametrize(
    "field",
    [
        pytest.param(
            models.GeneratedField(
                expression=Lower("username"),
                output_field=models.CharField(max_length=150),
                db_persist=True,
                unique=True,
            ),
            id="another-field",
        ),
        pytest.param(
            models.GeneratedField(
                expression=NullIf(Lower("email"), models.Value("x")),
                output_field=models.CharField(max_length=254, null=True),
                db_persist=True,
                unique=True,
            ),
            id="leaves-out-an-address",
        ),
    ],
)
def test_w002_and_w006_with_a_generated_column_of_something_else(mariadb, field):
    model = user_model(fields={"email_lower": field})
    assert ids(email_unique_warnings(model)) == ["verified_email.W002"]
    assert ids(email_index_warnings(model)) == ["verified_email.W006"]


@pytest.mark.hardening
def test_the_rules_are_judged_for_the_user_models_database(monkeypatch):
    monkeypatch.undo()  # the real capabilities, not postgres_like's
    from django.contrib.auth import get_user_model

    found = indexes.capabilities(get_user_model())
    assert found.vendor == connection.vendor
    assert found.expression_indexes == connection.features.supports_expression_indexes
    assert found.partial_indexes == connection.features.supports_partial_indexes


NOT_BLANK = ~models.Q(email="")


@pytest.mark.hardening
@isolate_apps("tests.testapp")
@pytest.mark.parametrize("function", [Lower, Upper])
@pytest.mark.parametrize("condition", [None, NOT_BLANK, models.Q(email__isnull=False)])
def test_no_w005_when_a_case_insensitive_constraint_serves_the_lookup(function, condition):
    model = user_model(
        models.UniqueConstraint(function("email"), name="email_ci_unique", condition=condition)
    )
    assert email_index_warnings(model) == []
    index = email_index(model)
    assert (index.name, index.fold, index.condition, index.unique) == (
        "email_ci_unique",
        function,
        condition,
        True,
    )


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_no_w005_with_a_plain_index_on_the_folded_address():
    model = user_model(indexes=[models.Index(Upper("email"), name="email_upper")])
    assert email_index_warnings(model) == []
    assert email_index(model).fold is Upper
    # Not unique, so W002 still asks for the constraint.
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


@pytest.mark.hardening
@isolate_apps("tests.testapp")
@pytest.mark.parametrize(
    "rules",
    [
        pytest.param({}, id="nothing"),
        pytest.param(
            {"constraints": [models.UniqueConstraint(fields=["email"], name="email_unique")]},
            id="case-sensitive",
        ),
        pytest.param({"indexes": [models.Index(fields=["email"], name="email_idx")]}, id="plain"),
        pytest.param(
            {"constraints": [models.UniqueConstraint(Lower("username"), name="username_ci")]},
            id="another-field",
        ),
        pytest.param(
            # The lookup would have to repeat the condition, and then miss
            # the inactive accounts that hold an address.
            {
                "constraints": [
                    models.UniqueConstraint(
                        Lower("email"), name="active_email_ci", condition=models.Q(is_active=True)
                    )
                ]
            },
            id="partial-on-another-field",
        ),
        pytest.param(
            {
                "constraints": [
                    models.UniqueConstraint(
                        Lower("email"), name="email_ci", condition=~models.Q(email="a@b.c")
                    )
                ]
            },
            id="partial-leaving-out-an-address",
        ),
    ],
)
def test_w005_when_no_index_can_serve_the_lookup(rules):
    model = user_model(*rules.get("constraints", ()), indexes=rules.get("indexes", ()))
    [warning] = email_index_warnings(model)
    assert warning.id == "verified_email.W006"
    assert "Lower('email')" in warning.hint
    assert email_index(model) is None


@pytest.mark.hardening
@isolate_apps("tests.testapp")
def test_the_lookup_compares_like_the_constraint_when_an_index_folds_otherwise():
    # The constraint's function is the one that refuses a write.
    model = user_model(
        models.UniqueConstraint(Lower("email"), name="email_ci"),
        indexes=[models.Index(Upper("email"), name="email_upper")],
    )
    assert email_index(model).fold is Lower


@pytest.mark.hardening
@pytest.mark.parametrize("caches", [LOCMEM, DUMMY])
def test_w003_when_the_cache_is_process_local_and_debug_is_off(settings, caches):
    settings.CACHES = caches
    settings.DEBUG = False
    [warning] = check_cache()
    assert warning.id == "verified_email.W003"


@pytest.mark.hardening
def test_no_w003_in_debug(settings):
    settings.CACHES = LOCMEM
    settings.DEBUG = True
    assert check_cache() == []


@pytest.mark.hardening
def test_no_w003_with_a_shared_cache(settings):
    settings.CACHES = {**LOCMEM, **{"shared": REDIS["default"]}}
    settings.DEBUG = False
    settings.VERIFIED_EMAIL = {"CACHE": "shared"}
    assert check_cache() == []


@pytest.mark.hardening
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REVERT_MAX_AGE", 0),
        ("CHANGE_LOCK_AFTER_REVERT", -1),
        ("PURGE_AFTER", "30 days"),
    ],
)
def test_e003_for_bad_hardening_numbers(settings, key, value):
    settings.VERIFIED_EMAIL = {key: value}
    assert [error.id for error in check_settings()] == ["verified_email.E003"]


@pytest.mark.hardening
def test_the_hardening_defaults_pass_the_checks(settings):
    settings.VERIFIED_EMAIL = {
        "REVERT_MAX_AGE": 604800,
        "CHANGE_LOCK_AFTER_REVERT": 0,
        "LOGOUT_OTHER_SESSIONS": True,
        "PURGE_AFTER": 86400,
    }
    assert check_settings() == []


@pytest.mark.hardening
def test_w004_when_links_would_take_any_host(settings):
    from django_verified_email.checks import check_link_host

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    [warning] = check_link_host()
    assert warning.id == "verified_email.W004"

    settings.VERIFIED_EMAIL = {"BASE_URL": "https://example.com"}
    assert check_link_host() == []
    settings.VERIFIED_EMAIL = {}
    settings.ALLOWED_HOSTS = ["example.com"]
    assert check_link_host() == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CODE_MAX_AGE", 0),
        ("CODE_MAX_AGE", "15 minutes"),
        ("CODE_MAX_ATTEMPTS", 0),
        ("CODE_MAX_ATTEMPTS", True),
        ("CODE_MAX_ATTEMPTS_PER_DAY", -1),
        ("CODE_MAX_ATTEMPTS_PER_DAY", 2.5),
        ("CHANGE_REQUESTS_PER_DAY", 0),
        ("CHANGE_REQUESTS_PER_DAY", "10"),
        ("CHANGE_EMAILS_PER_DAY", 0),
        ("CHANGE_EMAILS_PER_DAY", None),
    ],
)
def test_e003_for_bad_code_numbers(settings, key, value):
    settings.VERIFIED_EMAIL = {key: value}
    assert [error.id for error in check_settings()] == ["verified_email.E003"]
    assert check_code_guessing() == []


def test_the_code_defaults_keep_guessing_under_1_in_10000(settings):
    from django_verified_email.conf import DEFAULTS

    settings.VERIFIED_EMAIL = {}
    assert check_code_guessing() == []
    # 20 tries against a million codes: about 1 in 50,000.
    assert 1 / code_guess_chance(DEFAULTS) > 49_000


@pytest.mark.parametrize(
    "values",
    [
        {"CODE_MAX_ATTEMPTS_PER_DAY": 100},
        # Each started day of a link's life brings a day of tries.
        {"LINK_MAX_AGE": 6 * 86400},
    ],
)
def test_w006_when_the_settings_make_codes_guessable(settings, values):
    settings.VERIFIED_EMAIL = values

    [warning] = check_code_guessing()

    assert warning.id == "verified_email.W007"
    assert warning.level == checks.WARNING


@pytest.mark.hardening
def test_w004_when_links_would_take_any_subdomain(settings):
    from django_verified_email.checks import check_link_host

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["www.example.com", ".example.com"]
    [warning] = check_link_host()
    assert warning.id == "verified_email.W004"
    assert "any subdomain of .example.com" in warning.msg

    settings.VERIFIED_EMAIL = {"BASE_URL": "https://www.example.com"}
    assert check_link_host() == []


@pytest.mark.parametrize("value", [0, -5, "604800", True, 1.5])
def test_e003_for_a_bad_recovery_delay(settings, value):
    settings.VERIFIED_EMAIL = {"RECOVERY_DELAY": value}

    assert ids(check_settings()) == ["verified_email.E003"]


def test_a_recovery_delay_of_none_turns_the_path_off_without_an_error(settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_DELAY": None}

    assert check_settings() == []


@pytest.mark.parametrize("value", ["no.such.module.mfa", "django_verified_email.conf.DEFAULTS", 42])
def test_e009_when_the_second_factor_is_not_a_callable(settings, value):
    settings.VERIFIED_EMAIL = {"RECOVERY_SECOND_FACTOR": value}

    assert ids(check_settings()) == ["verified_email.E009"]


def test_a_second_factor_callable_passes(settings):
    settings.VERIFIED_EMAIL = {"RECOVERY_SECOND_FACTOR": "tests.test_recovery.second_factor_passed"}

    assert check_settings() == []


@pytest.mark.parametrize(
    "value", ["no.such.module.release", "django_verified_email.conf.DEFAULTS", 42]
)
def test_e013_when_the_unproven_holder_hook_is_not_a_callable(settings, value):
    settings.VERIFIED_EMAIL = {"RELEASE_UNPROVEN_HOLDER": value}

    assert ids(check_settings()) == ["verified_email.E013"]


@pytest.mark.parametrize(
    "value", [None, "django_verified_email.stores.unproven.release_unproven_holder"]
)
def test_the_unproven_holder_hook_may_be_none_or_a_callable(settings, value):
    settings.VERIFIED_EMAIL = {"RELEASE_UNPROVEN_HOLDER": value}

    assert check_settings() == []


# The scheduler (W012): a check with the database tag ------------------------


def w012(databases=("default",)):
    messages = checks.run_checks(tags=[checks.Tags.database], databases=list(databases))
    return [message for message in messages if message.id == "verified_email.W012"]


@pytest.fixture
def due_recovery(db, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from django_verified_email.models import EmailChange

    return EmailChange.objects.create(
        user=make_user(),
        old_email="alice@example.com",
        new_email="due@example.com",
        status=EmailChange.Status.SCHEDULED,
        old_email_lost=True,
        completes_at=timezone.now() - timedelta(minutes=1),
        # Reminded in time: the run completes it (no completion before the reminder).
        reminder_sent_at=timezone.now() - timedelta(days=1),
    )


def test_w012_when_due_recoveries_wait_and_the_command_never_ran(due_recovery):
    [warning] = w012()

    assert warning.level == checks.WARNING
    assert "verified_email_complete_due" in warning.msg
    assert "cron" in warning.hint and "django_verified_email.complete_due_changes" in warning.hint


def test_w012_is_shown_by_check_with_database(due_recovery):
    from io import StringIO

    out = StringIO()
    call_command("check", databases=["default"], stderr=out, stdout=out)

    assert "verified_email.W012" in out.getvalue()


def test_w012_when_the_last_run_is_over_an_hour_old(due_recovery):
    from tests.helpers import later

    call_command("verified_email_complete_due")  # closes the due change
    due_recovery.pk = None
    due_recovery.status = "scheduled"
    due_recovery.save()  # another one comes due

    assert w012() == []
    with later(3599):
        assert w012() == []
    with later(3601):
        assert ids(w012()) == ["verified_email.W012"]


def test_no_w012_with_nothing_due(db):
    assert w012() == []


def test_no_w012_for_a_database_the_check_was_not_asked_about(due_recovery):
    from django_verified_email.checks import check_complete_due_runs

    assert ids(check_complete_due_runs(databases=["default"])) == ["verified_email.W012"]
    assert check_complete_due_runs(databases=["other"]) == []
    assert check_complete_due_runs(databases=None) == []


# Django runs its model checks against every alias: a GeneratedField (the test
# app's MariaDB recipe) asks each server's version, which connects without a
# query. The test settings' other aliases (tests/test_routers.py) are allowed
# here, and closed after, where the database has a server.
EVERY_ALIAS = ["default"] if connection.vendor == "sqlite" else list(django_settings.DATABASES)


@pytest.mark.django_db(databases=EVERY_ALIAS)
def test_plain_check_does_not_query_the_database(due_recovery, django_assert_num_queries):
    from io import StringIO

    from django.db import connections

    out = StringIO()
    try:
        with django_assert_num_queries(0):
            call_command("check", stderr=out, stdout=out)
    finally:
        for alias in EVERY_ALIAS[1:]:
            connections[alias].close()

    assert "verified_email.W012" not in out.getvalue()


def test_w008_is_silent_without_allauth():
    # tests/allauth_host proves it fires with allauth installed without the bridge.
    from django_verified_email.checks import check_allauth_bridge

    assert check_allauth_bridge() == []
