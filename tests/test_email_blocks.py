"""Each block of an email comes out exactly as Django renders it in a page."""

import re

import pytest
from django.template.loader import get_template

from django_verified_email import emails
from django_verified_email.rendering import BLOCKS, TemplatedEmail, render_blocks

CONTEXT = {
    "link": "https://example.com/l/",
    "link_expires_in": "24 hours",
    "link_max_age_hours": 24,
    "completes_in": "7 days",
    "recovery_delay": "7 days",
    "revert_max_age_days": 7,
    "reverted_at_text": "Sunday 29 November 2026, 10:42 UTC",
    "masked_new_email": "n***@example.com",
    "base_url": "https://example.com",
    "support_url": "https://example.com/help/",
    "email_is_login": True,
    "code_max_age_minutes": 15,
    "request_context": {"ip": "203.0.113.9", "device": "Firefox", "when_text": "Sunday"},
    "change": {"old_email": "old@example.com", "new_email": "new@example.com"},
}

#: Nothing HTML would escape, so a whole page render shows what each block renders.
PLAIN = {**CONTEXT, "site_name": "Wallet"}

#: A name that HTML escapes.
SITE = "O'Brien & <Co>"
ESCAPED = "O&#x27;Brien &amp; &lt;Co&gt;"


@pytest.fixture
def host_templates(tmp_path, settings):
    """A template folder the host controls, searched before the app's own."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]

    def write(name, text):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return name

    return write


def rendered(template_name, context):
    message = TemplatedEmail(template_name=template_name, context=dict(context))
    message.render()
    return message


@pytest.mark.parametrize("code", [None, "123456"])
@pytest.mark.parametrize("site_name", ["Wallet", ""])
@pytest.mark.parametrize("kind", emails.KINDS)
def test_each_block_is_what_django_renders_for_it_in_the_page(kind, site_name, code):
    context = {**PLAIN, "site_name": site_name, "code": code}
    template = emails.template_name(kind)

    blocks = render_blocks(template, context, BLOCKS)

    # The shipped base has nothing outside its three blocks but white space.
    page = get_template(template).render(context)
    pattern = r"\s*".join(["", *(re.escape(blocks[name]) for name in BLOCKS), ""])
    assert re.fullmatch(pattern, page), (blocks, page)
    assert all(blocks.values())


def test_a_host_override_extends_ours_and_wraps_text_content_with_block_super(host_templates):
    shipped = render_blocks("verified_email/email/verify.html", PLAIN, BLOCKS)
    template = host_templates(
        "h/verify.html",
        '{% extends "verified_email/email/verify.html" %}'
        "{% block text_content %}Acme says:\n{{ block.super }}\n-- Acme & co{% endblock %}",
    )

    blocks = render_blocks(template, PLAIN, BLOCKS)

    assert blocks["subject"] == shipped["subject"]
    assert blocks["html_body"] == shipped["html_body"]
    text = blocks["text_body"]
    assert text.startswith("Acme says:\nPlease confirm that this email address is yours")
    # The override's content, then the base's footer, which it does not touch.
    content, footer = text.split("\n-- Acme & co")
    assert content.removeprefix("Acme says:\n") + footer == shipped["text_body"]


def test_a_standalone_override_with_the_three_blocks(host_templates):
    template = host_templates(
        "h/verify.html",
        "Outside {{ site_name }}: not in any part.\n"
        "{% block subject %}\n  Hello {{ site_name }}\n{% endblock %}\n"
        "{% block text_body %}\n  Text for {{ site_name }} <b>  \n{% endblock %}\n"
        "{% block html_body %}<p>{{ site_name }}</p>{% endblock %}\nTrailing.",
    )

    message = rendered(template, {**CONTEXT, "site_name": SITE})

    assert message.subject == "Hello O'Brien & <Co>"
    assert message.body == "Text for O'Brien & <Co> <b>"
    assert message.alternatives == [(f"<p>{ESCAPED}</p>", "text/html")]


def test_a_template_without_html_sends_text_only(host_templates):
    template = host_templates(
        "h/verify.html",
        "{% block subject %}Hi {{ site_name }}{% endblock %}"
        "{% block text_body %}Open {{ link }}{% endblock %}",
    )

    message = rendered(template, PLAIN)

    assert render_blocks(template, PLAIN, BLOCKS)["html_body"] == ""
    assert (message.subject, message.body) == ("Hi Wallet", "Open https://example.com/l/")
    assert message.alternatives == []
    assert message.content_subtype == "plain"


def test_a_template_with_html_only_sends_it_as_the_body(host_templates):
    template = host_templates(
        "h/verify.html",
        "{% block subject %}Hi{% endblock %}"
        "{% block html_body %}<b>{{ site_name }}</b>{% endblock %}",
    )

    message = rendered(template, {**CONTEXT, "site_name": SITE})

    assert message.body == f"<b>{ESCAPED}</b>"
    assert message.content_subtype == "html"
    assert message.alternatives == []


def test_a_template_without_blocks_renders_empty(host_templates):
    template = host_templates("h/verify.html", "Only {{ site_name }}, in no block.")

    assert render_blocks(template, PLAIN, BLOCKS) == dict.fromkeys(BLOCKS, "")


def test_nested_blocks_through_a_chain_of_three_templates(host_templates):
    host_templates(
        "h/base.html",
        "{% block subject %}[{% block inner %}inner {{ site_name }}{% endblock %}]{% endblock %}"
        "{% block text_body %}{% block text_content %}{% endblock %}--{% block sig %}sig"
        "{% endblock %}{% endblock %}"
        "{% block html_body %}<div>{% block html_content %}{% endblock %}</div>{% endblock %}",
    )
    host_templates(
        "h/middle.html",
        '{% extends "h/base.html" %}{% block sig %}middle {{ block.super }}{% endblock %}'
        "{% block text_content %}text {{ site_name }}{% endblock %}",
    )
    template = host_templates(
        "h/verify.html",
        '{% extends "h/middle.html" %}{% block inner %}leaf {{ block.super }}{% endblock %}'
        "{% block html_content %}<i>{{ site_name }}</i>{% endblock %}"
        "{% block sig %}leaf {{ block.super }}{% endblock %}",
    )

    blocks = render_blocks(template, {**CONTEXT, "site_name": SITE}, BLOCKS)

    assert blocks == {
        "subject": f"[leaf inner {SITE}]",
        "text_body": f"text {SITE}--leaf middle sig",
        "html_body": f"<div><i>{ESCAPED}</i></div>",
    }


def test_escaping_tags_in_a_block_still_apply(host_templates):
    template = host_templates(
        "h/verify.html",
        "{% block subject %}{% autoescape on %}{{ site_name }}{% endautoescape %}{% endblock %}"
        "{% block text_body %}{{ site_name|escape }} {{ site_name }}{% endblock %}"
        "{% block html_body %}{% autoescape off %}{{ site_name }}{% endautoescape %} "
        "{{ site_name }}{% endblock %}",
    )

    blocks = render_blocks(template, {**CONTEXT, "site_name": SITE}, BLOCKS)

    assert blocks == {
        "subject": ESCAPED,
        "text_body": f"{ESCAPED} {SITE}",
        "html_body": f"{SITE} {ESCAPED}",
    }


def test_the_html_body_is_escaped_when_the_engine_does_not_autoescape(settings):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"], "autoescape": False},
        }
    ]

    blocks = render_blocks(
        "verified_email/email/verify.html", {**CONTEXT, "site_name": SITE}, BLOCKS
    )

    assert f"<title>{ESCAPED}</title>" in blocks["html_body"]
    assert blocks["subject"].startswith(f"{SITE}: ")


def test_an_included_template_in_a_block(host_templates):
    host_templates("h/line.txt", "line of {{ site_name }}")
    template = host_templates(
        "h/verify.html",
        '{% extends "verified_email/email/base.html" %}'
        '{% block subject %}{% include "h/line.txt" %}{% endblock %}'
        '{% block text_content %}{% include "h/line.txt" %}{% endblock %}'
        '{% block html_content %}{% include "h/line.txt" %}{% endblock %}',
    )

    blocks = render_blocks(template, {**CONTEXT, "site_name": SITE}, BLOCKS)

    assert blocks["subject"] == f"line of {SITE}"
    assert blocks["text_body"].startswith(f"line of {SITE}\n\nThis message was sent")
    assert f"line of {ESCAPED}\n</div>" in blocks["html_body"]
