"""The example project runs the whole dual-link flow under an ASGI server (uvicorn).

Django serves the app's sync views from a thread under ASGI; this walks the
flow over real HTTP, cookies and CSRF included, against ``pocket_wallet.asgi``.
"""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.helpers import EXAMPLE_PROJECT, example_manage

OUTBOX_LINK_RE = re.compile(r'<a class="outbox-link" data-testid="outbox-link" href="([^"]+)"')


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pocket_wallet.settings",
        "POCKET_WALLET_DB": str(tmp_path / "db.sqlite3"),
        "POCKET_WALLET_CONSOLE_MAIL": "0",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE_PROJECT), *sys.path]),
    }
    example_manage("migrate", "--noinput", env=env)
    example_manage("ensure_demo_user", env=env)
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "pocket_wallet.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=EXAMPLE_PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # up to 20 s for the server to start
            try:
                urllib.request.urlopen(base + "/login/", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    pytest.fail("uvicorn stopped: " + server.stdout.read())
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not answer")
        yield Browser(base)
    finally:
        server.terminate()
        server.wait(timeout=10)


class Browser:
    """A client with cookies that sends Django's CSRF token with every POST."""

    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path, **query):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with self.opener.open(url, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def post(self, path, **fields):
        csrf = next(c.value for c in self.cookies if c.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": csrf}).encode()
        with self.opener.open(self.base + path, data=data, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def outbox_links(self, to):
        _url, page = self.get("/outbox/", to=to)
        newest = page.split('data-testid="outbox-message"')[1]
        return [re.sub(r"^https?://[^/]+", "", link) for link in OUTBOX_LINK_RE.findall(newest)]


def test_the_example_runs_the_dual_link_flow_under_uvicorn(site):
    site.get("/login/")
    url, _page = site.post("/login/", username="demo", password="demo-password-123")
    assert not url.endswith("/login/")

    site.get("/account/email/change/")
    url, _page = site.post(
        "/account/email/change/", new_email="pocket@example.com", password="demo-password-123"
    )
    assert url.endswith("/account/email/")

    [old_link, _deny_link] = site.outbox_links("demo@example.com")
    site.get(old_link)
    site.post(old_link)
    [new_link] = site.outbox_links("pocket@example.com")
    site.get(new_link)
    url, _page = site.post(new_link)

    assert url.endswith("/profile/")
    _url, profile = site.get("/profile/")
    assert '<dd id="profile-email">pocket@example.com</dd>' in profile
    assert 'data-verified="true"' in profile
