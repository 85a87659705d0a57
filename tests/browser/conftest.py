"""Fixtures for the real-browser test: the example project served by Django's
development server on 127.0.0.1 with a fresh SQLite file, and a page of a
headless Chromium driven by Playwright. The dual-link journey also runs on
a second server, the project on Django's default auth.User.

The default test run does not collect this folder: it needs Chromium and
starts processes. The tox env `browser` (scripts/test-browser) sets
VE_BROWSER_TESTS=1 and selects its tests by the ``browser`` marker.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import example_manage

if os.environ.get("VE_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]

HERE = str(Path(__file__).resolve().parent)
EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"
CHROMIUM = os.environ.get("VE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 30
SERVER_LOGS = []
# The live server's environment (its database), for commands run beside it.
SERVER_ENV = {}
# Playwright waits up to this long (milliseconds) for any element or navigation.
ACTION_TIMEOUT_MS = 10_000


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url, process, log_path):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the development server exited:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            # Not listening yet: poll again shortly, up to the deadline.
            time.sleep(0.1)
    pytest.fail(f"the development server did not answer in time:\n{log_path.read_text()}")


def site_env(workdir, settings):
    """The environment of the example project with ``settings``, on a new SQLite file."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])),
        "POCKET_WALLET_DB": str(workdir / "db.sqlite3"),
        "POCKET_WALLET_CONSOLE_MAIL": "0",
        "PYTHONUNBUFFERED": "1",
    }


def serve(workdir, env, host):
    """Migrate and serve the example project in ``env`` on a free local port; yield its URL.

    Every server listens on 127.0.0.1; ``host`` is the name the browser uses.
    Cookies are kept per host name, not per port, so a second site gets a
    name of its own ("localhost") and its sessions never replace the first's.
    """
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=EXAMPLE_PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
        if migrate.returncode:
            pytest.fail(f"migrate failed:\n{log_path.read_text()}")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=EXAMPLE_PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{host}:{port}"
    SERVER_LOGS.append(log_path)
    try:
        wait_until_serving(url + "/", server, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="session")
def live_url(tmp_path_factory):
    """The example project on its custom user model (the mixin), on a free local port.

    Its settings are example_settings.py (next to this file): the project's own.
    """
    workdir = tmp_path_factory.mktemp("example_project")
    env = site_env(workdir, "example_settings")
    SERVER_ENV.update(env)
    yield from serve(workdir, env, "127.0.0.1")


@pytest.fixture(scope="session")
def auth_user_live_url(tmp_path_factory):
    """The example project on Django's default auth.User (the profile store).

    Its settings are example_settings_auth_user.py: the project's
    settings_auth_user.py.
    """
    workdir = tmp_path_factory.mktemp("example_project_auth_user")
    yield from serve(workdir, site_env(workdir, "example_settings_auth_user"), "localhost")


@pytest.fixture
def manage(live_url):
    """Run a management command of the example project on the live server's database."""

    def run(*args):
        return example_manage(*args, env=SERVER_ENV, timeout=120).stdout

    return run


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def other_context(playwright):
    """A second browser with its own cookies: someone else's computer."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    context = browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()
        browser.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory, playwright):
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context):
    """A fresh tab of the shared browser."""
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is not None:
        # What the browser showed when the test failed, and what the server said.
        path = Path(tempfile.mkdtemp(prefix="ve-browser-")) / f"{item.name}.png"
        try:
            page.screenshot(path=path, full_page=True)
        except Exception as error:
            # A failed screenshot must not hide the test's own failure.
            report.sections.append(("screenshot", f"could not take one: {error}"))
        else:
            report.sections.append(("screenshot", f"{path} (at {page.url})"))
        for log_path in SERVER_LOGS:
            report.sections.append(("development server log", log_path.read_text()[-5000:]))
    return report
