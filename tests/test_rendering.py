"""Emails from templates that {% extends %} a base, as host overrides do."""

import pytest
from django.test import Client
from templated_mail.mail import BaseEmailMessage

from django_verified_email import emails
from django_verified_email.rendering import TemplatedEmail
from tests.helpers import link_path, request_change, send_verification


@pytest.fixture
def host_templates(tmp_path, settings):
    """A template folder the host controls, searched before the app's own."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]

    def write(name, text):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return write


def html_of(message):
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


@pytest.fixture
def unverified_client(make_user):
    client = Client()
    client.force_login(make_user(verified=False))
    return client


def test_the_shipped_emails_have_subject_text_and_html(unverified_client, mailoutbox):
    send_verification(unverified_client)

    [message] = mailoutbox
    assert message.subject == "testserver: Verify your email address"
    assert "Please confirm that this email address is yours" in message.body
    assert "<html" not in message.body
    assert "Verify my email address</a>" in html_of(message)
    assert link_path(message)


def test_a_host_override_that_extends_our_base(host_templates, unverified_client, mailoutbox):
    host_templates(
        "verified_email/email/verify.html",
        '{% extends "verified_email/email/base.html" %}'
        "{% block subject %}Acme: confirm {{ user.email_address }}{% endblock %}"
        "{% block text_content %}Acme text: {{ link }}{% endblock %}"
        '{% block html_content %}<p class="acme"><a href="{{ link }}">Acme</a></p>{% endblock %}',
    )

    send_verification(unverified_client)

    [message] = mailoutbox
    assert message.subject == "Acme: confirm alice@example.com"
    assert message.body.startswith("Acme text: http://testserver/account/email/verify/")
    # Blocks the override does not touch come from the base.
    assert "This message was sent automatically by testserver." in message.body
    assert '<p class="acme"><a href="http://testserver/account/email/verify/' in html_of(message)
    assert "<!DOCTYPE html>" in html_of(message)
    # The link works.
    assert Client().post(link_path(message)).status_code == 302


def test_a_host_override_that_extends_the_shipped_email_with_block_super(
    host_templates, logged_in, mailoutbox
):
    # Same path as the shipped template: Django's loaders skip to the next one.
    host_templates(
        "verified_email/email/change_confirm_old.html",
        '{% extends "verified_email/email/change_confirm_old.html" %}'
        "{% block subject %}[Acme] {{ block.super }}{% endblock %}"
        "{% block text_footer %}Acme Inc. {{ block.super }}{% endblock %}",
    )

    request_change(logged_in, "new@example.com")

    [message] = mailoutbox
    assert message.subject == "[Acme] testserver: Confirm the change of your email address"
    assert "change the email address of your testserver account to new@example.com" in message.body
    assert message.body.endswith(
        "Acme Inc. This message was sent automatically by testserver. Please do not reply."
    )
    assert "Confirm the change</a>" in html_of(message)
    assert Client().post(link_path(message)).status_code == 200


def test_a_host_base_override_changes_every_email(host_templates, logged_in, mailoutbox):
    host_templates(
        "verified_email/email/base.html",
        "{% block subject %}{% endblock %}"
        "{% block text_body %}{% block text_content %}{% endblock %}\n-- Acme{% endblock %}"
        "{% block html_body %}<div class=acme>{% block html_content %}{% endblock %}</div>"
        "{% endblock %}",
    )

    request_change(logged_in, "new@example.com")

    [message] = mailoutbox
    assert message.subject == "testserver: Confirm the change of your email address"
    assert message.body.endswith("-- Acme")
    assert html_of(message).startswith("<div class=acme><p>We received a request")
    # The link is in the message's own blocks, so a base that drops ours keeps it.
    assert Client().post(link_path(message)).status_code == 200


def test_plain_templated_mail_renders_extends_templates_empty(user):
    # The bug TemplatedEmail exists for: django-templated-mail only reads the
    # blocks at the top of the template, and an extending template has none.
    context = {"user": user, "link": "https://example.com/x/", "link_max_age_hours": 24}
    plain = BaseEmailMessage(template_name="verified_email/email/verify.html", context=context)
    plain.render()
    ours = TemplatedEmail(template_name="verified_email/email/verify.html", context=context)
    ours.render()

    assert plain.subject == ""
    assert plain.body == ""
    assert ours.subject == "Verify your email address"  # no site name in this context
    assert "https://example.com/x/" in ours.body


def test_the_subject_is_one_line(host_templates, unverified_client, mailoutbox):
    host_templates(
        "verified_email/email/verify.html",
        '{% extends "verified_email/email/base.html" %}'
        "{% block subject %}\n  Please\n  verify\r\n  now\n{% endblock %}"
        "{% block text_content %}{{ link }}{% endblock %}",
    )

    send_verification(unverified_client)

    [message] = mailoutbox
    assert message.subject == "Please verify now"
    assert message.message()["Subject"] == "Please verify now"


def test_text_is_not_html_escaped_and_html_is(host_templates, logged_in, mailoutbox):
    host_templates(
        "verified_email/email/change_confirm_old.html",
        '{% extends "verified_email/email/change_confirm_old.html" %}'
        "{% block subject %}Change to {{ change.new_email }}?{% endblock %}",
    )

    request_change(logged_in, "o'brien&co@example.com")

    [message] = mailoutbox
    assert message.subject == "Change to o'brien&co@example.com?"
    assert "account to o'brien&co@example.com." in message.body
    assert "&#x27;" not in message.body
    assert "&amp;" not in message.body
    assert "o&#x27;brien&amp;co@example.com" in html_of(message)
    assert "o'brien" not in html_of(message)


def test_the_completed_and_notice_emails_carry_no_confirm_link(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1], to="alice@example.com"))
    Client().post(link_path(mailoutbox[-1], to="new@example.com"))

    completed, notice = mailoutbox[-2:]
    for message in (completed, notice):
        assert message.subject
        assert "/confirm/" not in message.body
        assert "/confirm/" not in html_of(message)
    assert "new@example.com is verified and linked to your testserver account" in completed.body
    assert "changed from alice@example.com" in notice.body


@pytest.mark.parametrize("kind", emails.KINDS)
def test_every_email_template_has_the_three_blocks(kind):
    from django_verified_email.rendering import render_blocks

    context = {
        "link": "https://example.com/l/",
        "link_max_age_hours": 24,
        "revert_max_age_days": 7,
        "change": {"old_email": "old@example.com", "new_email": "new@example.com"},
    }
    blocks = render_blocks(
        emails.template_name(kind), context, ["subject", "text_body", "html_body"]
    )

    assert all(blocks.values()), blocks
    assert "\n" not in blocks["subject"]
    assert "<" not in blocks["text_body"]
    assert blocks["html_body"].startswith("<!DOCTYPE html>")


def built_message(user):
    message = emails.build(emails.VERIFY, user_id=user.pk, base_url="https://example.com")
    assert message is not None
    return message


def test_a_rendered_message_keeps_no_context(make_user):
    # The context holds the user's row and the one-time code; the message
    # needs neither once rendered (the test outbox deep-copies it, a mail
    # queue may pickle it).
    user = make_user(verified=False)

    message = built_message(user)

    assert message.context == {}
    assert message.user == user
    assert message.subject and message.body and html_of(message)
