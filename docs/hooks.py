"""MkDocs hook: the reference pages must cover what the code defines.

It also renders ``changelog.md`` from the repository's ``CHANGELOG.md``.

A setting added to ``conf.DEFAULTS``, a signal added to ``signals.py`` or an
email added to ``emails.KINDS`` without a line in the docs fails the strict
build. The code is read with ``ast``, so the build needs neither Django nor
the package installed.
"""

import ast
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "django_verified_email"
CHANGELOG = ROOT / "CHANGELOG.md"


def _module(name):
    return ast.parse((PACKAGE / name).read_text(encoding="utf-8"))


def setting_keys():
    for node in ast.walk(_module("conf.py")):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "DEFAULTS" for target in node.targets
        ):
            return [key.value for key in node.value.keys]
    raise PluginError("conf.py has no DEFAULTS dict")


def signal_names():
    return [
        node.targets[0].id
        for node in _module("signals.py").body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "Signal"
    ]


def email_kinds():
    """The kinds of ``emails.KINDS``, the registry keyed by the kinds' constants."""
    constants = {}
    for node in _module("emails.py").body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if not isinstance(target, ast.Name):
                continue
            if isinstance(node.value, ast.Constant):
                constants[target.id] = node.value.value
            elif target.id == "KINDS" and isinstance(node.value, ast.Dict):
                return [constants[key.id] for key in node.value.keys]
    raise PluginError("emails.py has no KINDS registry")


REQUIRED = {
    "settings.md": lambda: [f"`{key}`" for key in setting_keys()],
    "signals.md": lambda: [f"`{name}`" for name in signal_names()],
    "templates.md": lambda: [f"`verified_email/email/{kind}.html`" for kind in email_kinds()],
}


def on_files(files, **kwargs):
    # Python caches the compiled hook next to it, in docs/__pycache__: keep it
    # out of the site.
    for file in [file for file in files if file.src_uri.startswith("__pycache__/")]:
        files.remove(file)
    return files


def on_page_markdown(markdown, page, **kwargs):
    if page.file.src_uri == "changelog.md":
        # One changelog, kept at the top of the repository.
        return CHANGELOG.read_text(encoding="utf-8")
    required = REQUIRED.get(page.file.src_uri)
    if required is None:
        return markdown
    missing = [item for item in required() if item not in markdown]
    if missing:
        raise PluginError(f"{page.file.src_uri} does not document: {', '.join(missing)}")
    return markdown
