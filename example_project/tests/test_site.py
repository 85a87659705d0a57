"""Pocket Wallet's own tests: run with ``python manage.py test`` (the package's
test suite runs them too, from tests/test_example_project.py)."""

import re
from io import StringIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django_verified_email import flows, is_email_verified, throttle
from django_verified_email.exceptions import VerifiedEmailError
from django_verified_email.models import EmailChange, VerifiedEmailProfile

from accounts import demo
from outbox.models import Message
from outbox.rendering import linkify

# Django's test runner swaps the site's mail backend for its locmem one; put
# the outbox back, by whichever setting this Django version reads.
if hasattr(settings, "MAILERS"):
    MAIL_SETTINGS = {"MAILERS": {"default": {"BACKEND": settings.OUTBOX_BACKEND}}}
else:
    MAIL_SETTINGS = {"EMAIL_BACKEND": settings.OUTBOX_BACKEND}

SITE = override_settings(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    OUTBOX_PRINT=False,
    **MAIL_SETTINGS,
)
OUTBOX_LINK_RE = re.compile(r'<a class="outbox-link" data-testid="outbox-link" href="([^"]+)"')


def path_of(link):
    return re.sub(r"^https?://[^/]+", "", link)


@SITE
class OutboxTests(TestCase):
    def send(self, subject="Hello", body="Text", html=None, to="someone@example.com"):
        message = mail.EmailMultiAlternatives(subject, body, "site@example.com", [to])
        if html is not None:
            message.attach_alternative(html, "text/html")
        message.send()

    def test_backend_stores_every_message_with_both_bodies(self):
        self.send(subject="Receipt", body="Paid.", html="<p>Paid.</p>", to="a@example.com")

        stored = Message.objects.get()
        self.assertEqual(stored.subject, "Receipt")
        self.assertEqual(stored.recipients, ["a@example.com"])
        self.assertEqual(stored.body, "Paid.")
        self.assertEqual(stored.html_body, "<p>Paid.</p>")

    def test_page_lists_newest_first_with_links_clickable_and_the_rest_escaped(self):
        self.send(subject="First", body="older")
        self.send(
            subject="<script>alert(1)</script>",
            body="Open http://testserver/account/email/verify/abc.def/. <b>bold</b> & co",
        )

        response = self.client.get(reverse("outbox:list"))

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        page = response.content.decode()
        self.assertLess(page.index("&lt;script&gt;"), page.index("First"))
        self.assertNotIn("<script>alert", page)
        self.assertNotIn("<b>bold</b>", page)
        self.assertIn("&lt;b&gt;bold&lt;/b&gt; &amp; co", page)
        self.assertEqual(
            OUTBOX_LINK_RE.findall(page), ["http://testserver/account/email/verify/abc.def/"]
        )

    def test_linkify_leaves_trailing_punctuation_and_other_schemes_as_text(self):
        html = linkify('See https://example.com/a?b=1&c=2. Or javascript:alert("x")')
        self.assertEqual(
            html,
            'See <a class="outbox-link" data-testid="outbox-link" '
            'href="https://example.com/a?b=1&amp;c=2">https://example.com/a?b=1&amp;c=2</a>. '
            "Or javascript:alert(&quot;x&quot;)",
        )

    def test_page_shows_the_one_time_code_of_a_message(self):
        self.send(subject="No code", body="Hello", html="<p>Hello</p>")
        self.send(
            subject="Verify",
            body="Code: 123-456",
            html="<p><strong data-verified-email-code>123-456</strong></p>",
        )

        page = self.client.get(reverse("outbox:list")).content.decode()

        self.assertEqual(re.findall(r'data-testid="outbox-code">([^<]*)<', page), ["123-456"])

    def test_filter_by_recipient(self):
        self.send(subject="For A", to="a@example.com")
        self.send(subject="For B", to="b@example.com")

        page = self.client.get(reverse("outbox:list"), {"to": "B@example.com"}).content.decode()

        self.assertIn("For B", page)
        self.assertNotIn("For A", page)

    def test_html_version_is_served_locked_down(self):
        self.send(html="<p>Hi</p>")

        response = self.client.get(reverse("outbox:html", args=[Message.objects.get().pk]))

        self.assertEqual(response.content, b"<p>Hi</p>")
        self.assertIn("default-src 'none'", response["Content-Security-Policy"])
        self.assertIn("sandbox", response["Content-Security-Policy"])

    def test_clear_empties_the_outbox(self):
        self.send()
        self.client.post(reverse("outbox:clear"))
        self.assertFalse(Message.objects.exists())


def outbox_links(client, to):
    """The links of the newest outbox message to ``to``, read from the outbox page."""
    page = client.get(reverse("outbox:list"), {"to": to}).content.decode()
    first = page.split('data-testid="outbox-message"')[1]
    return [path_of(link) for link in OUTBOX_LINK_RE.findall(first)]


@SITE
class FlowTests(TestCase):
    def setUp(self):
        # Resend cooldowns live in the cache: no test may inherit another's.
        cache.clear()
        call_command("ensure_demo_user", stdout=StringIO())

    def test_signup_sends_a_verification_link_that_verifies_the_address(self):
        response = self.client.post(
            reverse("signup"),
            {
                "username": "newbie",
                "email": "newbie@example.com",
                "password1": "a-long-enough-password-7",
                "password2": "a-long-enough-password-7",
            },
        )
        self.assertRedirects(response, reverse("profile"))
        [link] = outbox_links(self.client, "newbie@example.com")

        page = self.client.get(link)
        self.assertContains(page, 'id="verified-email-page"')  # the site's layout
        self.assertContains(page, "Pocket Wallet")
        self.client.post(link)

        profile = self.client.get(reverse("profile"))
        self.assertContains(profile, 'data-verified="true"')
        self.assertContains(profile, "newbie@example.com")

    def test_signup_refuses_an_address_in_use_in_another_case(self):
        response = self.client.post(
            reverse("signup"),
            {
                "username": "copycat",
                "email": "DEMO@example.com",
                "password1": "a-long-enough-password-7",
                "password2": "a-long-enough-password-7",
            },
        )
        self.assertContains(response, "An account already uses this address.")
        self.assertFalse(get_user_model().objects.filter(username="copycat").exists())

    def test_the_outbox_shows_the_code_beside_the_link(self):
        self.client.login(username="demo", password="demo-password-123")
        self.client.post(
            reverse("verified_email:change"),
            {"new_email": "pocket@example.com", "password": "demo-password-123"},
        )

        page = self.client.get(reverse("outbox:list")).content.decode()

        [code] = re.findall(r'data-testid="outbox-code">([^<]*)<', page)
        self.assertRegex(code, r"^\d{3}-\d{3}$")
        response = self.client.post(reverse("verified_email:change-code"), {"code": code})
        self.assertContains(response, "One more step")

    def test_dual_link_change_through_the_outbox_page(self):
        self.client.login(username="demo", password="demo-password-123")
        response = self.client.post(
            reverse("verified_email:change"),
            {"new_email": "pocket@example.com", "password": "demo-password-123"},
        )
        self.assertRedirects(response, reverse("verified_email:status"))

        # Confirm, and "This wasn't me" (the same page, leading with that button).
        [old_link, deny_link] = outbox_links(self.client, "demo@example.com")
        self.assertEqual(deny_link, old_link + "?deny=1")
        self.client.post(old_link)
        self.assertEqual(get_user_model().objects.get(username="demo").email, "demo@example.com")
        [new_link] = outbox_links(self.client, "pocket@example.com")
        response = self.client.post(new_link)
        self.assertRedirects(response, reverse("profile"))

        profile = self.client.get(reverse("profile")).content.decode()
        self.assertIn('<dd id="profile-email">pocket@example.com</dd>', profile)
        self.assertIn('data-verified="true"', profile)
        self.assertEqual(EmailChange.objects.get().status, EmailChange.Status.COMPLETED)

    def test_lost_mailbox_change_completes_after_the_demo_fast_forward(self):
        self.client.login(username="demo", password="demo-password-123")
        form = self.client.get(reverse("verified_email:change")).content.decode()
        self.assertIn("I can no longer open demo@example.com", form)
        self.client.post(
            reverse("verified_email:change"),
            {
                "new_email": "pocket@example.com",
                "password": "demo-password-123",
                "old_email_lost": "on",
            },
        )
        [stop_link] = outbox_links(self.client, "demo@example.com")
        self.assertIn("/change/stop/", stop_link)
        [new_link] = outbox_links(self.client, "pocket@example.com")
        self.client.post(new_link)
        self.assertEqual(EmailChange.objects.get().status, EmailChange.Status.SCHEDULED)
        status = self.client.get(reverse("verified_email:status")).content.decode()
        self.assertIn('id="ve-countdown"', status)

        with override_settings(DEBUG=True):
            call_command("demo_fast_forward", stdout=StringIO())
        self.assertEqual(EmailChange.objects.get().status, EmailChange.Status.COMPLETED)
        self.assertEqual(get_user_model().objects.get(username="demo").email, "pocket@example.com")

    def test_demo_fast_forward_is_refused_with_debug_off(self):
        from django.core.management.base import CommandError

        with override_settings(DEBUG=False), self.assertRaises(CommandError):
            call_command("demo_fast_forward", stdout=StringIO())

    def test_completed_email_uses_the_sites_extends_override(self):
        self.client.login(username="demo", password="demo-password-123")
        self.client.post(
            reverse("verified_email:change"),
            {"new_email": "pocket@example.com", "password": "demo-password-123"},
        )
        self.client.post(outbox_links(self.client, "demo@example.com")[0])
        self.client.post(outbox_links(self.client, "pocket@example.com")[0])

        completed = Message.objects.filter(to="pocket@example.com").first()
        self.assertEqual(
            completed.subject, "Pocket Wallet: pocket@example.com now signs your wallet in"
        )
        self.assertIn("Hello demo,", completed.body)
        # The footer comes from the app's base template, through {% extends %}.
        self.assertIn("This message was sent automatically by Pocket Wallet.", completed.body)
        self.assertIn("Pocket Wallet</h2>", completed.html_body)

    def test_a_taken_address_is_not_revealed(self):
        self.client.login(username="demo", password="demo-password-123")
        response = self.client.post(
            reverse("verified_email:change"),
            {"new_email": "Taken@example.com", "password": "demo-password-123"},
        )
        # Looks accepted (REVEAL_TAKEN_EMAIL off); once the old address
        # confirms, the owner of the taken one is told, and no link goes there.
        self.assertRedirects(response, reverse("verified_email:status"))
        self.client.post(outbox_links(self.client, "demo@example.com")[0])
        notice = Message.objects.get(to__iexact="taken@example.com")
        self.assertIn("Someone tried to use your email address", notice.subject)
        self.assertNotIn("/account/email/", notice.body)

    def test_home_page_lists_the_safe_settings(self):
        page = self.client.get(reverse("home"))
        self.assertContains(page, 'id="safe-settings"')
        for name in demo.SAFE_SETTINGS:
            self.assertContains(
                page, f"<code>{name}</code> = <code>{settings.VERIFIED_EMAIL[name]}</code>"
            )

    def test_login_page_shows_the_demo_accounts(self):
        page = self.client.get(reverse("login"))
        self.assertContains(page, 'id="demo-credentials"')
        self.assertContains(page, "<code>demo-password-123</code>", html=False)

    def test_admin_shows_users_with_the_flag_and_email_changes(self):
        self.client.login(username="admin", password="admin-password-123")
        opts = get_user_model()._meta
        users = self.client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        # The mixin's field, or the profile store's column on auth.User.
        column = "is_email_verified" if opts.label == "accounts.User" else "verified_email_status"
        self.assertContains(users, f"column-{column}")
        self.assertContains(users, "send_verification_link")
        changes = self.client.get(reverse("admin:verified_email_emailchange_changelist"))
        self.assertEqual(changes.status_code, 200)


@SITE
class UserModelTests(TestCase):
    """The site runs on its custom user model (settings.py) or on auth.User
    (settings_auth_user.py); FlowTests walk the same flows on each."""

    def test_the_verified_state_lives_where_the_user_model_keeps_it(self):
        self.client.post(
            reverse("signup"),
            {
                "username": "newbie",
                "email": "newbie@example.com",
                "password1": "a-long-enough-password-7",
                "password2": "a-long-enough-password-7",
            },
        )
        self.client.post(outbox_links(self.client, "newbie@example.com")[0])

        user = get_user_model().objects.get(username="newbie")
        self.assertEqual(user._meta.label, settings.AUTH_USER_MODEL)
        self.assertTrue(is_email_verified(user))
        if settings.AUTH_USER_MODEL == "auth.User":
            # No field on the user: the app's own table holds the proved address.
            self.assertFalse(hasattr(user, "is_email_verified"))
            row = VerifiedEmailProfile.objects.get(user=user)
            self.assertEqual(row.verified_address, "newbie@example.com")
            self.assertIsNotNone(row.verified_at)
        else:
            self.assertTrue(user.is_email_verified)
            self.assertFalse(VerifiedEmailProfile.objects.exists())


@SITE
class EnsureDemoUserTests(TestCase):
    def test_creates_the_accounts_once_and_leaves_them_alone_after(self):
        call_command("ensure_demo_user", stdout=StringIO())
        users = get_user_model().objects
        users.filter(username="demo").update(email="moved@example.com")

        call_command("ensure_demo_user", stdout=StringIO())

        self.assertEqual(users.count(), len(demo.ACCOUNTS))
        self.assertEqual(users.get(username="demo").email, "moved@example.com")
        for account in demo.ACCOUNTS:
            user = users.get(username=account.username)
            self.assertTrue(user.check_password(account.password))
            self.assertEqual(user.is_staff, account.staff)
            # demo's address was written around the app: on auth.User the
            # profile store reads it unverified (the mixin's field keeps its flag).
            if account.username != "demo":
                self.assertTrue(is_email_verified(user))

    def test_reset_restores_address_and_cancels_the_open_change(self):
        call_command("ensure_demo_user", stdout=StringIO())
        user = get_user_model().objects.get(username="demo")
        user.email = "moved@example.com"
        user.save()
        EmailChange.objects.create(
            user=user,
            old_email="moved@example.com",
            new_email="x@example.com",
            status="awaiting_new",
        )
        # An undone change (which locks changes for a day) and a lockout.
        EmailChange.objects.create(
            user=user,
            old_email="demo@example.com",
            new_email="moved@example.com",
            status="completed",
            reverted_at=timezone.now(),
        )
        throttle.lock(user)
        throttle.claim_send(user, throttle.CHANGE, "x@example.com")  # a cooldown now held
        with self.assertRaises(VerifiedEmailError):
            throttle.claim_send(user, throttle.CHANGE, "x@example.com")
        self.assertIsNotNone(flows.change_lock(user))

        call_command("ensure_demo_user", "--reset", stdout=StringIO())

        user.refresh_from_db()
        self.assertEqual(user.email, "demo@example.com")
        self.assertTrue(is_email_verified(user))
        self.assertFalse(EmailChange.objects.exists())
        self.assertIsNone(flows.change_lock(user))

        # And a change to the same address starts at once: no lock, no cooldown.
        self.client.login(username="demo", password="demo-password-123")
        response = self.client.post(
            reverse("verified_email:change"),
            {"new_email": "x@example.com", "password": "demo-password-123"},
        )
        self.assertRedirects(response, reverse("verified_email:status"))
