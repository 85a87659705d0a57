"""drf-spectacular describes the API as the packaged openapi.yaml does, without a warning."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.management.commands.spectacular import Command as SpectacularCommand

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "src" / "django_verified_email" / "api" / "openapi.yaml"
PREFIX = "/api/account/email"


@pytest.fixture
def generated(tmp_path):
    """``manage.py spectacular --validate --fail-on-warn`` on the test project's API.

    tests/settings.py names drf-spectacular's ``AutoSchema`` in ``REST_FRAMEWORK``.
    """
    out = tmp_path / "schema.yaml"
    # Any error or warning fails the command (SchemaGenerationError).
    call_command(
        SpectacularCommand(),
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "tests.api.urls",
        "--file",
        str(out),
    )
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def _resolve(spec, node):
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = spec["components"][kind][name]
    return node


def outline(spec, prefix=""):
    """Paths, methods, request body fields and response codes of ``spec``."""
    found = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            fields = None
            if body is not None:
                schema = _resolve(spec, body["content"]["application/json"]["schema"])
                fields = sorted(schema["properties"])
            codes = sorted(int(code) for code in operation["responses"])
            found[(path.removeprefix(prefix), method)] = {
                "operationId": operation["operationId"],
                "request": fields,
                "responses": codes,
            }
    return found


def test_the_generated_schema_matches_openapi_yaml(generated):
    documented = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))

    assert outline(generated, PREFIX) == outline(documented)


def test_every_component_name_is_the_apps_own(generated):
    names = set(generated["components"]["schemas"])

    assert names
    assert all(name.startswith("VerifiedEmail") for name in names), names


def test_the_api_runs_without_drf_spectacular():
    script = textwrap.dedent(
        """
        import os
        import sys

        sys.modules["drf_spectacular"] = None
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django

        django.setup()
        from django_verified_email.api import views

        # Undecorated: the method is the one views.py defines.
        print(views.StatusView.get.__qualname__, hasattr(views.StatusView.get, "kwargs"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": ""},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["StatusView.get", "False"]
