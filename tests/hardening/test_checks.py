"""System checks of the hardening: W002 (unique address), W003 (shared cache), W005
(indexed address lookup), E003."""

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models.functions import Lower, Upper
from django.test.utils import isolate_apps

from django_verified_email.checks import (
    check_cache,
    check_settings,
    email_index_warnings,
    email_unique_warnings,
)
from django_verified_email.indexes import email_index
from django_verified_email.models import VerifiedEmailMixin

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
    }
}


def user_model(*constraints, indexes=()):
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
        },
    )


@isolate_apps("tests.testapp")
def test_w002_when_the_email_field_has_no_case_insensitive_unique_constraint():
    [warning] = email_unique_warnings(user_model())
    assert warning.id == "verified_email.W002"
    assert "Lower('email')" in warning.hint


@isolate_apps("tests.testapp")
def test_w002_is_not_satisfied_by_a_case_sensitive_unique_constraint():
    model = user_model(models.UniqueConstraint(fields=["email"], name="email_unique"))
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


@isolate_apps("tests.testapp")
@pytest.mark.parametrize("function", [Lower, Upper])
def test_no_w002_with_a_lower_or_upper_unique_constraint(function):
    model = user_model(
        models.UniqueConstraint(
            function("email"), name="email_ci_unique", condition=~models.Q(email="")
        )
    )
    assert email_unique_warnings(model) == []


@isolate_apps("tests.testapp")
def test_w002_looks_at_the_models_own_email_field():
    model = user_model(models.UniqueConstraint(Lower("username"), name="username_ci"))
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


@isolate_apps("tests.testapp")
def test_the_w002_hint_is_the_quickstart_recipe():
    [warning] = email_unique_warnings(user_model())
    assert "condition=~Q(email='')" in warning.hint
    assert "violation_error_code='email_taken'" in warning.hint
    assert "violation_error_message" in warning.hint


NOT_BLANK = ~models.Q(email="")


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


@isolate_apps("tests.testapp")
def test_no_w005_with_a_plain_index_on_the_folded_address():
    model = user_model(indexes=[models.Index(Upper("email"), name="email_upper")])
    assert email_index_warnings(model) == []
    assert email_index(model).fold is Upper
    # Not unique, so W002 still asks for the constraint.
    assert [w.id for w in email_unique_warnings(model)] == ["verified_email.W002"]


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
    assert warning.id == "verified_email.W005"
    assert "Lower('email')" in warning.hint
    assert email_index(model) is None


@isolate_apps("tests.testapp")
def test_the_lookup_compares_like_the_constraint_when_an_index_folds_otherwise():
    # The constraint's function is the one that refuses a write.
    model = user_model(
        models.UniqueConstraint(Lower("email"), name="email_ci"),
        indexes=[models.Index(Upper("email"), name="email_upper")],
    )
    assert email_index(model).fold is Lower


@pytest.mark.parametrize("caches", [LOCMEM, DUMMY])
def test_w003_when_the_cache_is_process_local_and_debug_is_off(settings, caches):
    settings.CACHES = caches
    settings.DEBUG = False
    [warning] = check_cache()
    assert warning.id == "verified_email.W003"


def test_no_w003_in_debug(settings):
    settings.CACHES = LOCMEM
    settings.DEBUG = True
    assert check_cache() == []


def test_no_w003_with_a_shared_cache(settings):
    settings.CACHES = {**LOCMEM, **{"shared": REDIS["default"]}}
    settings.DEBUG = False
    settings.VERIFIED_EMAIL = {"CACHE": "shared"}
    assert check_cache() == []


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


def test_the_hardening_defaults_pass_the_checks(settings):
    settings.VERIFIED_EMAIL = {
        "REVERT_MAX_AGE": 604800,
        "CHANGE_LOCK_AFTER_REVERT": 0,
        "LOGOUT_OTHER_SESSIONS": True,
        "PURGE_AFTER": 86400,
    }
    assert check_settings() == []


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
