"""Tags of the app's pages: ``{% load verified_email %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.template import context_processors
from django.utils.html import format_html

from .. import languages

register = template.Library()


@register.simple_tag(takes_context=True)
def nonce_attr(context: Any) -> str:
    """Return ` nonce="…"` for an inline <style> or <script>, or "" without a CSP nonce.

    Django 6.0's CSP middleware gives each request a nonce, which templates
    read as ``csp_nonce`` when the host lists the ``csp`` context processor.
    A host that enforces a CSP without listing it still gets working pages:
    the nonce is read through the same processor here. Django 5.2 has
    neither, and the pages carry no nonce.
    """
    nonce = context.get("csp_nonce")
    csp = getattr(context_processors, "csp", None)  # Django 6.0+
    request = getattr(context, "request", None)
    if nonce is None and csp is not None and request is not None:
        nonce = csp(request).get("csp_nonce")
    if nonce is None:
        return ""
    return format_html(' nonce="{}"', nonce)


@register.simple_tag
def rendered_language() -> str | None:
    """Return the language the app's text comes out in (``languages.rendered``)."""
    return languages.rendered()
