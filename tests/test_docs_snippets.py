"""Every code block of docs/quickstart.md and docs/adopting.md runs, as written.

Each fenced block carries a marker just above it: ``<!-- snippet: NAME -->``
(``NAME, django<6.1`` for a block of some Django versions only), or
``<!-- snippet: skip, why -->`` for a block that is not meant to run (shell
output, the install line). The test builds a fresh project with
``startproject`` in a temporary directory, writes the blocks into it in the
order a reader would, and runs ``makemigrations``, ``migrate``, ``check`` and
the documented management commands with the current interpreter, as a reader
would. Between the docs' steps it runs the data migrations a project meets
(the FAQ's "trust existing users", and one shaped like django-allauth's
``account.0006``) on the historical user model, whose manager is the
quickstart's.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src"

MARKER = re.compile(r"^(?P<indent> *)<!-- snippet: (?P<spec>.*?) -->\n", re.M)
FENCE = re.compile(r"^(?P<indent> *)```")


def blocks(page):
    """Every fenced block of ``page``: a list of (marker spec or None, code)."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines(keepends=True)
    found, marker, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        match = MARKER.match(line)
        if match:
            marker = match["spec"]
        elif FENCE.match(line):
            indent = FENCE.match(line)["indent"]
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            code = textwrap.dedent("".join(lines[i + 1 : end]))
            assert all(not text.strip() or text.startswith(indent) for text in lines[i + 1 : end])
            found.append((marker, code))
            marker, i = None, end
        elif line.strip():
            marker = None
        i += 1
    return found


def _applies(condition):
    if not condition:
        return True
    match = re.fullmatch(r"django(<|>=)(\d+)\.(\d+)", condition.strip())
    assert match, f"unknown snippet condition {condition!r}"
    wanted = (int(match[2]), int(match[3]))
    return (django.VERSION[:2] < wanted) == (match[1] == "<")


def snippets(page):
    """The runnable blocks of ``page`` by name, for this Django version."""
    named = {}
    for spec, code in blocks(page):
        assert spec is not None, f"{page}: a code block without a snippet marker:\n{code}"
        name, _, condition = spec.partition(",")
        if name == "skip":
            continue
        if _applies(condition):
            assert name not in named, f"{page}: two blocks named {name!r}"
            named[name] = code
    return named


class Project:
    """A project made by startproject in ``path``, run by the current interpreter."""

    def __init__(self, path):
        self.path = path
        bin_dir = path / "bin"
        bin_dir.mkdir()
        # The docs' shell blocks say `python`: this interpreter.
        python = bin_dir / "python"
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        python.chmod(0o755)
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key != "DJANGO_SETTINGS_MODULE" and not key.startswith("VE_")
        }
        self.env["PATH"] = f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(path)])
        # As in the test suite: Django's deprecations are errors.
        self.env["PYTHONWARNINGS"] = "error::DeprecationWarning,error::PendingDeprecationWarning"
        self.run(sys.executable, "-m", "django", "startproject", "mysite", ".")
        # The docs' INSTALLED_APPS stands for the project's own ("# ..."):
        # startproject's admin route would need the admin among them.
        (path / "mysite" / "urls.py").write_text("urlpatterns = []\n")
        (path / "accounts" / "migrations").mkdir(parents=True)
        (path / "accounts" / "__init__.py").touch()
        (path / "accounts" / "migrations" / "__init__.py").touch()

    def run(self, *command):
        done = subprocess.run(
            command, cwd=self.path, env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def manage(self, *args):
        return self.run(sys.executable, "manage.py", *args)

    def shell(self, script):
        """Run a docs shell block as written, line by line, stopping at a failure."""
        return self.run("bash", "-e", "-c", script)

    def write(self, code, *, append=False):
        """Write a block to the file its first line names (``# accounts/models.py``)."""
        name = re.match(r"# (\S+)", code)[1]
        target = self.path / ("mysite/" + name if "/" not in name else name)
        with target.open("a" if append else "w", encoding="utf-8") as file:
            file.write(("\n" if append else "") + code)

    def script(self, code):
        """Run ``code`` with the project's settings loaded."""
        preamble = (
            "import os\n"
            'os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"\n'
            "import django\n"
            "django.setup()\n"
        )
        (self.path / "script.py").write_text(preamble + textwrap.dedent(code))
        return self.run(sys.executable, "script.py")

    def add_migration(self, name, code):
        """Write a data migration after the latest one of ``accounts``."""
        folder = self.path / "accounts" / "migrations"
        latest = max(path.stem for path in folder.glob("0*.py"))
        number = int(latest[:4]) + 1
        code = re.sub(r'\("accounts", "0[^"]*"\)', f'("accounts", "{latest}")', code)
        (folder / f"{number:04d}_{name}.py").write_text(code)


#: Shaped like django-allauth's account.0006: the historical user model's
#: manager lower-cases every address with an expression; and a bulk_update
#: that writes one address unchanged and moves another.
ALLAUTH_SHAPED = """\
from django.conf import settings
from django.db import migrations
from django.db.models.functions import Lower


def forwards(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    User.objects.all().exclude(email=Lower("email")).update(email=Lower("email"))
    kept = User.objects.get(username="bob")
    kept.email = "BOB@example.com"
    moved = User.objects.get(username="carol")
    moved.email = "carol@elsewhere.example"
    User.objects.bulk_update([kept, moved], ["email"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0000")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
"""


def faq_migration():
    text = (DOCS / "faq.md").read_text(encoding="utf-8")
    section = text.split("## Can I mark existing users as verified", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def flags():
    return """\
        from accounts.models import User
        for user in User.objects.order_by("username"):
            print(user.username, user.email, user.is_email_verified)
    """


def test_the_quickstart_and_adopting_pages_run_as_written(tmp_path):
    quickstart, adopting = snippets("quickstart.md"), snippets("adopting.md")
    project = Project(tmp_path)

    project.write(quickstart["settings"], append=True)
    project.write(quickstart["mail-settings"], append=True)
    # The mixin, then the manager: each migrates, and the checks run.
    for name in ("models-mixin", "models-manager"):
        project.write(quickstart[name])
        project.shell(quickstart["migrate"])

    # Data migrations on the historical model, through the quickstart's
    # manager: the FAQ's trusts every address, then one shaped like allauth's
    # writes them.
    project.script(
        """\
        from accounts.models import User
        User.objects.create_user("alice", "Alice@Example.com")
        User.objects.create_user("bob", "bob@example.com")
        User.objects.create_user("carol", "carol@example.com")
        User.objects.create_user("dan", "")
        """
    )
    project.add_migration("trust_existing", faq_migration())
    project.add_migration("emails_lower", ALLAUTH_SHAPED)
    project.manage("migrate")
    assert project.script(flags()).split("\n")[:4] == [
        # An expression: which rows keep their address is not known.
        "alice alice@example.com False",
        # The same address in another spelling keeps the flag; a new one loses it.
        "bob BOB@example.com True",
        "carol carol@elsewhere.example False",
        "dan  False",
    ]

    # The constraint; then nothing left to warn about.
    project.write(quickstart["models-constraint"])
    project.shell(quickstart["migrate"])

    project.write(quickstart["urls"])
    project.write(quickstart["forms"])
    project.write(quickstart["views"])
    project.write(quickstart["decorators"])
    project.manage("check", "--fail-level", "WARNING")

    # Adopting: the audit, then trusting the addresses.
    assert "Checked the addresses ('email') of 4 user(s)." in project.shell(adopting["audit"])
    assert (tmp_path / "audit.json").read_text().startswith("{")
    trusted = project.shell(adopting["trust"])
    assert "Would trust 2 address(es)" in trusted
    assert "Trusted 2 address(es) in 1 batch(es)." in trusted

    # The scheduled command runs on the defaults (no BASE_URL).
    project.shell(quickstart["complete-due"])
    project.shell(adopting["check-database"])

    # The sign-up view sends the first link; the decorator gates on the flag.
    outcome = project.script(
        """\
        from django.core import mail
        from django.http import HttpResponse
        from django.test import Client, RequestFactory
        from django.test.utils import setup_test_environment

        from accounts.decorators import verified_required
        from accounts.models import User

        setup_test_environment()
        response = Client().post(
            "/signup/",
            {
                "username": "erin",
                "email": "erin@example.com",
                "password1": "a-long-pass-phrase-1",
                "password2": "a-long-pass-phrase-1",
            },
        )
        print(response.status_code, response["Location"], len(mail.outbox))
        print(mail.outbox[0].to, "https://example.com/account/email/verify/" in mail.outbox[0].body)

        request = RequestFactory().get("/wallet/")
        request.user = User.objects.get(username="erin")
        print(verified_required(lambda request: HttpResponse())(request).status_code)
        """
    )
    assert outcome.split("\n")[:3] == [
        "302 /account/email/ 1",
        "['erin@example.com'] True",
        "302",
    ]


def test_every_block_of_the_pages_has_a_marker():
    for page in ("quickstart.md", "adopting.md"):
        found = blocks(page)
        assert found
        for spec, code in found:
            assert spec is not None, f"{page}: a code block without a snippet marker:\n{code}"
