"""The admin: email changes read-only, and the user admin mixin's flag and action."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import include, path, reverse
from django.utils import timezone

from django_verified_email import flows, is_email_verified, tokens
from django_verified_email.admin import EmailChangeAdmin, VerifiedEmailUserAdminMixin
from django_verified_email.models import CompleteDueRun, EmailChange, keeps_own_state
from tests.helpers import PASSWORD, email_of, later, link_in, path_of


class FlaggedUserAdmin(VerifiedEmailUserAdminMixin, UserAdmin):
    # The test user model has no first/last name: only what it has.
    list_display = ("username", "email_address", "is_staff")
    list_filter = ("is_staff",)
    search_fields = ("username", "email_address")
    ordering = ("username",)
    fieldsets = ((None, {"fields": ("username", "email_address", "password")}),)


site = admin.AdminSite(name="users_admin")
site.register(get_user_model(), FlaggedUserAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("users-admin/", site.urls),
    path("", include("tests.testapp.urls")),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def staff(make_user, client):
    superuser = make_user(
        "root", "root@example.com", verified=True, is_staff=True, is_superuser=True
    )
    client.force_login(superuser)
    return superuser


def change_for(user, new_email, status, **fields):
    return EmailChange.objects.create(
        user=user,
        old_email=email_of(user),
        new_email=new_email,
        status=status,
        # The account as it was asked (what a request records).
        account_fingerprint=tokens.fingerprint(user, with_verified_state=False),
        **fields,
    )


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


# EmailChange ------------------------------------------------------------


def test_email_change_is_registered_with_the_read_only_admin():
    assert isinstance(admin.site._registry[EmailChange], EmailChangeAdmin)


def test_email_change_list_shows_rows_and_filters_by_status(client, staff, make_user):
    alice = make_user()
    change_for(alice, "open@example.com", EmailChange.Status.AWAITING_OLD)
    change_for(alice, "gone@example.com", EmailChange.Status.CANCELLED)
    url = reverse("admin:verified_email_emailchange_changelist")

    everything = client.get(url)
    awaiting = client.get(url, {"status__exact": "awaiting_old"})

    assert everything.status_code == 200
    assert {c.new_email for c in everything.context["cl"].result_list} == {
        "open@example.com",
        "gone@example.com",
    }
    assert [c.new_email for c in awaiting.context["cl"].result_list] == ["open@example.com"]


def due_recovery(user):
    return EmailChange.objects.create(
        user=user,
        old_email=email_of(user),
        new_email="due@example.com",
        status=EmailChange.Status.SCHEDULED,
        old_email_lost=True,
        completes_at=timezone.now() - timedelta(minutes=1),
    )


SCHEDULER_WARNING = "verified_email_complete_due has not run in the last hour"


def scheduler_warnings(response):
    return [text for level, text in messages_of(response) if SCHEDULER_WARNING in text]


def test_the_change_list_warns_while_due_recoveries_wait_for_a_run_that_never_came(
    client, staff, make_user
):
    due_recovery(make_user())

    response = client.get(reverse("admin:verified_email_emailchange_changelist"))

    assert response.status_code == 200
    [warning] = scheduler_warnings(response)
    assert "every minute" in warning
    assert SCHEDULER_WARNING in response.text


def test_the_change_list_warns_when_the_last_run_is_over_an_hour_old(client, staff, make_user):
    call_command("verified_email_complete_due")
    due_recovery(make_user())
    url = reverse("admin:verified_email_emailchange_changelist")

    assert scheduler_warnings(client.get(url)) == []  # it ran a moment ago
    with later(3601):
        assert len(scheduler_warnings(client.get(url))) == 1
    with later(3601):
        call_command("verified_email_complete_due")
        response = client.get(url)
        ran_at = timezone.now()
    # The run closed the change and was recorded: nothing to warn of.
    assert scheduler_warnings(response) == []
    assert CompleteDueRun.objects.get().finished_at == ran_at


def test_the_change_list_is_silent_with_nothing_due(client, staff, make_user):
    # Never ran, but only changes still waiting (or not recoveries) exist.
    change = due_recovery(make_user())
    EmailChange.objects.filter(pk=change.pk).update(
        completes_at=timezone.now() + timedelta(hours=1)
    )

    response = client.get(reverse("admin:verified_email_emailchange_changelist"))

    assert response.status_code == 200
    assert scheduler_warnings(response) == []


def test_email_change_search_finds_by_username_and_address(client, staff, make_user):
    change_for(make_user("bob", "bob@example.com"), "b2@example.com", "completed")
    change_for(make_user("carol", "carol@example.com"), "c2@example.com", "completed")
    url = reverse("admin:verified_email_emailchange_changelist")

    by_username = client.get(url, {"q": "carol"}).context["cl"].result_list
    by_address = client.get(url, {"q": "b2@"}).context["cl"].result_list

    assert [c.new_email for c in by_username] == ["c2@example.com"]
    assert [c.new_email for c in by_address] == ["b2@example.com"]


def test_email_change_cannot_be_added_changed_or_deleted(client, staff, make_user):
    change = change_for(make_user(), "new@example.com", EmailChange.Status.AWAITING_OLD)

    add = client.get(reverse("admin:verified_email_emailchange_add"))
    edit = client.post(
        reverse("admin:verified_email_emailchange_change", args=[change.pk]),
        {"new_email": "evil@example.com", "status": "completed"},
    )
    delete = client.post(
        reverse("admin:verified_email_emailchange_delete", args=[change.pk]), {"post": "yes"}
    )
    bulk_delete = client.post(
        reverse("admin:verified_email_emailchange_changelist"),
        {"action": "delete_selected", "_selected_action": [change.pk], "post": "yes"},
    )

    assert add.status_code == 403
    assert edit.status_code == 403
    assert delete.status_code == 403
    assert bulk_delete.status_code in (200, 302)
    change.refresh_from_db()
    assert (change.new_email, change.status) == ("new@example.com", "awaiting_old")
    # Viewing stays possible: the change page renders read-only.
    view = client.get(reverse("admin:verified_email_emailchange_change", args=[change.pk]))
    assert view.status_code == 200
    assert b"new@example.com" in view.content


# User admin mixin -------------------------------------------------------


def test_user_list_gains_the_verified_column_and_filter(client, staff, make_user):
    make_user("unverified", "u@example.com", verified=False)
    url = reverse("users_admin:testapp_user_changelist")

    mixin = keeps_own_state(get_user_model())
    page = client.get(url)
    filtered = client.get(url, {"is_email_verified__exact" if mixin else "verified_email": "0"})

    column = "is_email_verified" if mixin else "verified_email_status"
    assert f"column-{column}".encode() in page.content
    assert [u.username for u in filtered.context["cl"].result_list] == ["unverified"]


def test_change_page_shows_the_flag_read_only(client, staff):
    page = client.get(reverse("users_admin:testapp_user_change", args=[staff.pk]))

    assert page.status_code == 200
    assert "is_email_verified" not in page.context["adminform"].form.fields
    assert b"Email verification" in page.content


def test_action_sends_links_to_unverified_users_and_skips_verified_ones(
    client, staff, make_user, mailoutbox
):
    pending = make_user("pending", "pending@example.com", verified=False)
    done = make_user("done", "done@example.com", verified=True)

    response = client.post(
        reverse("users_admin:testapp_user_changelist"),
        {"action": "send_verification_link", "_selected_action": [pending.pk, done.pk]},
    )

    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [["pending@example.com"]]
    assert messages_of(response) == [
        ("success", "Sent a verification link to 1 user: pending."),
        ("warning", "Skipped 1 user whose address is already verified: done."),
    ]
    # The link works: it was built from the admin request's host.
    link = link_in(mailoutbox[0])
    assert link.startswith("http://testserver/")
    assert client.post(path_of(link)).status_code == 302
    pending.refresh_from_db()
    assert is_email_verified(pending)


def test_action_reports_each_user_it_could_not_send_to(client, staff, make_user, mailoutbox):
    no_address = make_user("nobody", "", verified=False)
    cooling = make_user("cooling", "cooling@example.com", verified=False)
    url = reverse("users_admin:testapp_user_changelist")
    # Followed, so its own success message is shown and gone.
    client.post(
        url, {"action": "send_verification_link", "_selected_action": [cooling.pk]}, follow=True
    )
    mailoutbox.clear()

    response = client.post(
        url, {"action": "send_verification_link", "_selected_action": [no_address.pk, cooling.pk]}
    )

    assert mailoutbox == []
    levels = messages_of(response)
    assert [level for level, _text in levels] == ["error", "error"]
    assert any(text.startswith("cooling: ") for _level, text in levels)
    assert any(text.startswith("nobody: ") for _level, text in levels)


@override_settings(VERIFIED_EMAIL={"BASE_URL": "https://accounts.example.com"})
def test_action_builds_links_from_base_url(client, staff, make_user, mailoutbox):
    pending = make_user("pending", "pending@example.com", verified=False)

    client.post(
        reverse("users_admin:testapp_user_changelist"),
        {"action": "send_verification_link", "_selected_action": [pending.pk]},
    )

    assert link_in(mailoutbox[0]).startswith("https://accounts.example.com/")


def test_action_needs_the_change_permission(client, make_user, mailoutbox):
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer", "viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)
    pending = make_user("pending", "pending@example.com", verified=False)

    page = client.get(reverse("users_admin:testapp_user_changelist"))
    client.post(
        reverse("users_admin:testapp_user_changelist"),
        {"action": "send_verification_link", "_selected_action": [pending.pk]},
    )

    assert page.status_code == 200
    assert b"send_verification_link" not in page.content
    assert mailoutbox == []


def test_host_actions_are_kept_next_to_the_new_one():
    class WithActions(VerifiedEmailUserAdminMixin, UserAdmin):
        actions = ["make_inactive"]

        @admin.action(description="Make inactive")
        def make_inactive(self, request, queryset):
            queryset.update(is_active=False)

    model_admin = WithActions(get_user_model(), admin.AdminSite())

    assert tuple(model_admin.actions) == ("make_inactive", "send_verification_link")


# Support-assisted completion: the one way the admin moves a change on


def complete_action(client, change, reason=None):
    data = {"action": "complete_with_reason", "_selected_action": [change.pk]}
    if reason is not None:
        data.update(apply="1", reason=reason)
    return client.post(reverse("admin:verified_email_emailchange_changelist"), data)


def test_staff_complete_a_scheduled_change_with_a_written_reason(
    staff, make_user, client, mailoutbox
):
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "scheduled", old_email_lost=True)
    page = complete_action(client, change)
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert "proved itself with its link" in page.content.decode()
    assert EmailChange.objects.get(pk=change.pk).status == "scheduled"

    response = complete_action(client, change, reason="Called her; passport checked.")
    assert response.status_code == 302
    assert ("success", "The address of alice is now alice.new@example.org.") in messages_of(
        response
    )
    change.refresh_from_db()
    assert change.status == "completed"
    assert (change.completed_by, change.completion_reason) == (
        staff,
        "Called her; passport checked.",
    )
    assert change.closed_at is not None
    alice.refresh_from_db()
    assert (email_of(alice), is_email_verified(alice)) == ("alice.new@example.org", True)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        ["alice.new@example.org", "alice@example.com"]
    )
    [old] = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    assert "support team" in old.body


@pytest.mark.parametrize(
    ("status", "lost"), [("awaiting_old", False), ("awaiting_new", False), ("awaiting_new", True)]
)
def test_staff_completion_of_an_awaiting_change_waits_for_the_new_address_link(
    staff, make_user, client, mailoutbox, status, lost
):
    # Staff's word stands for the old address and the wait, never for the
    # new address: no address is verified that no link proved (N5).
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", status, old_email_lost=lost)
    page = complete_action(client, change).content.decode()
    assert "only its link can do that" in page

    response = complete_action(client, change, reason="Called her; passport checked.")

    assert (
        "success",
        "We sent alice.new@example.org a new link: the address of alice changes when it is "
        "used, with no other step and no wait.",
    ) in messages_of(response)
    change.refresh_from_db()
    assert change.status == "awaiting_new"
    assert change.completed_by == staff
    alice.refresh_from_db()
    assert (email_of(alice), is_email_verified(alice)) == ("alice@example.com", True)
    [sent] = mailoutbox
    assert sent.to == ["alice.new@example.org"]
    assert "For your safety" not in sent.body

    # The link completes it, with no wait, even for a recovery.
    mailoutbox.clear()
    assert Client().post(path_of(link_in(sent))).status_code == 302
    change.refresh_from_db()
    assert change.status == "completed"
    alice.refresh_from_db()
    assert (email_of(alice), is_email_verified(alice)) == ("alice.new@example.org", True)
    [old] = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    assert "support team" in old.body


def test_staff_cannot_complete_a_change_the_owner_reacted_to(staff, make_user, client, mailoutbox):
    alice = make_user()
    change = flows.request_change(
        alice, "alice.new@example.org", PASSWORD, base_url="https://testserver"
    )
    mailoutbox.clear()
    # The owner changed the password since the request (N6).
    alice.set_password("the owner's new passphrase 1")
    alice.save()

    page = complete_action(client, change).content.decode()
    response = complete_action(client, change, reason="Called her.")

    assert "its owner may have reacted to it" in page
    assert 'name="reason"' not in page
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert "its owner may have reacted to it" in text
    assert EmailChange.objects.get(pk=change.pk).status == "awaiting_old"
    assert email_of(reloaded_user(alice)) == "alice@example.com"
    assert mailoutbox == []


def test_staff_cannot_complete_a_change_of_an_inactive_account(staff, make_user, client):
    alice = make_user(is_active=False)
    change = change_for(alice, "alice.new@example.org", "scheduled")

    page = complete_action(client, change).content.decode()
    response = complete_action(client, change, reason="Called her.")

    assert "The account is inactive" in page
    assert messages_of(response)[0][0] == "error"
    assert EmailChange.objects.get(pk=change.pk).status == "scheduled"
    assert email_of(reloaded_user(alice)) == "alice@example.com"


def _staff_with(make_user, *codenames, **flags):
    from django.contrib.auth.models import Permission

    agent = make_user("agent", "agent@example.com", is_staff=True, **flags)
    agent.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return reloaded_user(agent)


def test_completing_needs_the_permission_to_change_users_too(make_user, client):
    agent = _staff_with(make_user, "view_emailchange", "change_emailchange")
    client.force_login(agent)
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "scheduled")

    page = client.get(reverse("admin:verified_email_emailchange_changelist")).content.decode()
    complete_action(client, change, reason="trust me")

    assert "complete_with_reason" not in page
    assert EmailChange.objects.get(pk=change.pk).status == "scheduled"
    assert email_of(reloaded_user(alice)) == "alice@example.com"


@pytest.mark.parametrize(
    ("target", "agent_flags", "allowed"),
    [
        ({"is_superuser": True, "is_staff": True}, {}, False),
        ({"is_superuser": True, "is_staff": True}, {"is_superuser": True}, True),
        ({"is_staff": True}, {}, True),
        ({}, {}, True),
    ],
)
def test_staff_cannot_move_the_address_of_a_more_privileged_account(
    make_user, client, target, agent_flags, allowed
):
    agent = _staff_with(
        make_user, "view_emailchange", "change_emailchange", "change_user", **agent_flags
    )
    client.force_login(agent)
    root = make_user("root", "root@example.com", **target)
    change = change_for(root, "root.new@example.org", "scheduled")

    page = complete_action(client, change).content.decode()
    response = complete_action(client, change, reason="Asked on the phone.")

    assert ('name="reason"' in page) is allowed
    assert (messages_of(response)[0][0] == "success") is allowed
    expected = "root.new@example.org" if allowed else "root@example.com"
    assert email_of(reloaded_user(root)) == expected
    if not allowed:
        assert "Only a superuser can change the address of a superuser." in page


def test_staff_refusals_come_from_the_flow_too(make_user):
    # Callers other than the admin meet the same ladder.
    from django_verified_email.exceptions import StaffRefused
    from django_verified_email.flows import recovery

    agent = _staff_with(make_user, "change_emailchange", "change_user")
    root = make_user("root", "root@example.com", is_superuser=True, is_staff=True)
    change = change_for(root, "root.new@example.org", "scheduled")

    with pytest.raises(StaffRefused):
        recovery.complete_by_staff(change.pk, agent, "why not", base_url="https://t.example")
    assert email_of(reloaded_user(root)) == "root@example.com"


def test_staff_completion_needs_a_reason(staff, make_user, client, mailoutbox):
    change = change_for(make_user(), "alice.new@example.org", "scheduled")
    response = complete_action(client, change, reason="   ")
    assert response.status_code == 200
    assert EmailChange.objects.get(pk=change.pk).status == "scheduled"
    assert mailoutbox == []


def test_staff_cannot_complete_a_closed_change(staff, make_user, client):
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "cancelled")
    complete_action(client, change, reason="asked by phone")
    assert EmailChange.objects.get(pk=change.pk).status == "cancelled"
    assert email_of(reloaded_user(alice)) == "alice@example.com"


def test_completing_needs_the_change_permission(make_user, client):
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer", "viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_emailchange"))
    client.force_login(viewer)
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "scheduled")
    page = client.get(reverse("admin:verified_email_emailchange_changelist")).content.decode()
    assert "complete_with_reason" not in page
    complete_action(client, change, reason="trust me")
    assert EmailChange.objects.get(pk=change.pk).status == "scheduled"

    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_emailchange", "change_user"])
    )
    client.force_login(reloaded_user(viewer))
    complete_action(client, change, reason="Video call, ID checked.")
    assert EmailChange.objects.get(pk=change.pk).completed_by_id == viewer.pk


def test_the_audit_fields_are_shown_read_only(staff, make_user, client):
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "scheduled")
    complete_action(client, change, reason="Video call, ID checked.")
    url = reverse("admin:verified_email_emailchange_change", args=[change.pk])
    page = client.get(url).content.decode()
    assert "Video call, ID checked." in page
    assert 'name="completion_reason"' not in page
    client.post(url, {"completion_reason": "edited", "status": "cancelled"})
    change.refresh_from_db()
    assert (change.status, change.completion_reason) == ("completed", "Video call, ID checked.")


def reloaded_user(user):
    return get_user_model()._default_manager.get(pk=user.pk)
