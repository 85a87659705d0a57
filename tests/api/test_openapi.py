"""The packaged openapi.yaml describes exactly the API that ``api/urls.py`` serves."""

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from django_verified_email.api import urls
from tests.helpers import api_request_change, call

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / "src" / "django_verified_email" / "api" / "openapi.yaml"
)
DOCS_COPY = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"

AUTH = {401: {"not_authenticated", "authentication_failed"}}
AUTH[403] = AUTH[401] | {"permission_denied"}

# The contract's API table, plus the codes every endpoint of a kind shares:
# auth errors on the logged-in ones (and on the confirm ones, for a code),
# invalid_request on those that read a
# body, delivery_failed on those that send mail, a host throttle on the
# anonymous ones.
EXPECTED = {
    ("/status/", "get"): {"success": 200, "errors": {**AUTH}},
    ("/verify/", "post"): {
        "success": 202,
        "errors": {
            **AUTH,
            409: {"already_verified", "no_email"},
            429: {"throttled"},
            503: {"delivery_failed"},
        },
    },
    ("/verify/confirm/", "post"): {
        "success": 200,
        "errors": {
            **AUTH,
            400: {"invalid_request", "invalid_token", "invalid_code"},
            410: {"expired_token", "expired_code"},
            429: {"throttled"},
        },
    },
    ("/change/", "post"): {
        "success": 202,
        "errors": {
            **AUTH,
            400: {
                "invalid_request",
                "invalid_email",
                "same_email",
                "email_taken",
                "wrong_password",
                "wrong_second_factor",
                "invalid_code",
                "recovery_disabled",
                "recovery_needs_password",
            },
            403: AUTH[403] | {"second_factor_required"},
            410: {"expired_code"},
            409: {"revert_pending"},
            429: {"locked_out", "throttled"},
            503: {"delivery_failed"},
        },
    },
    ("/change/reauth-code/", "post"): {
        "success": 202,
        "errors": {
            **AUTH,
            400: {"password_required"},
            429: {"throttled"},
            503: {"delivery_failed"},
        },
    },
    ("/change/confirm/", "post"): {
        "success": 200,
        "errors": {
            **AUTH,
            400: {"invalid_request", "invalid_token", "invalid_code"},
            409: {"email_taken"},
            410: {"expired_token", "expired_code"},
            429: {"throttled"},
            503: {"delivery_failed"},
        },
    },
    ("/change/resend/", "post"): {
        "success": 202,
        "errors": {
            **AUTH,
            404: {"no_pending_change"},
            429: {"throttled"},
            503: {"delivery_failed"},
        },
    },
    ("/change/cancel/", "post"): {
        "success": 200,
        "errors": {**AUTH, 404: {"no_pending_change"}},
    },
    ("/change/stop/", "post"): {
        "success": 200,
        "errors": {
            400: {"invalid_request", "invalid_token"},
            410: {"expired_token"},
            429: {"throttled"},
        },
    },
    ("/change/deny/", "post"): {
        "success": 200,
        "errors": {
            **AUTH,
            400: {"invalid_request", "invalid_token", "invalid_code"},
            410: {"expired_token", "expired_code"},
            429: {"throttled"},
        },
    },
    ("/change/revert/", "post"): {
        # 202: no password of the account, so the revert is scheduled.
        "success": [200, 202],
        "errors": {
            400: {"invalid_request", "invalid_token"},
            409: {"email_taken"},
            410: {"expired_token"},
            429: {"throttled"},
        },
    },
    ("/change/keep/", "post"): {
        "success": 200,
        "errors": {
            400: {"invalid_request", "invalid_token"},
            410: {"expired_token"},
            429: {"throttled"},
        },
    },
    ("/change/set-password/", "post"): {
        "success": 200,
        "errors": {
            400: {"invalid_request", "invalid_token", "invalid_password"},
            410: {"expired_token"},
            429: {"throttled"},
        },
    },
}

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def resolve(spec, item):
    while "$ref" in item:
        node = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def documented_errors(spec, operation):
    errors = {}
    for status, response in operation["responses"].items():
        status = int(status)
        if status >= 400:
            errors[status] = set(resolve(spec, response)["x-error-codes"])
    return errors


def test_the_description_is_valid_openapi(spec):
    validate(spec)


def test_every_url_is_described_with_its_methods(spec):
    served = {}
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class
        methods = {method for method in HTTP_METHODS if hasattr(view, method)}
        served[f"/{pattern.pattern}"] = methods

    described = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in spec["paths"].items()
    }

    assert described == served
    assert set(EXPECTED) == {
        (path, method) for path, methods in served.items() for method in methods
    }


@pytest.mark.parametrize(("path", "method"), list(EXPECTED))
def test_each_operation_lists_its_success_and_error_codes(spec, path, method):
    operation = spec["paths"][path][method]
    expected = EXPECTED[(path, method)]

    successes = [int(status) for status in operation["responses"] if int(status) < 400]
    success = expected["success"]
    assert successes == (success if isinstance(success, list) else [success])
    assert documented_errors(spec, operation) == expected["errors"]


def test_every_documented_code_is_in_the_error_schema(spec):
    known = set(spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    used = set()
    for item in spec["paths"].values():
        for operation in item.values():
            for codes in documented_errors(spec, operation).values():
                used |= codes
    assert used <= known
    # Only method_not_allowed and not_acceptable apply everywhere unlisted.
    assert known - used == {"method_not_allowed", "not_acceptable"}


def test_the_status_schema_matches_a_live_answer(spec, logged_in):
    api_request_change(logged_in, "alice.new@example.com")
    body = call(logged_in, "status", method="get").json()
    schemas = spec["components"]["schemas"]

    assert set(body) == set(schemas["Status"]["properties"])
    assert set(body["pending_change"]) == set(schemas["PendingChange"]["properties"])


def test_the_docs_copy_is_the_packaged_description():
    assert DOCS_COPY.read_text(encoding="utf-8") == SPEC_PATH.read_text(encoding="utf-8")
