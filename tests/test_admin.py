"""The admin: email changes read-only, and the user admin mixin's flag and action."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import include, path, reverse

from django_verified_email import is_email_verified
from django_verified_email.admin import EmailChangeAdmin, VerifiedEmailUserAdminMixin
from django_verified_email.models import EmailChange, keeps_own_state
from tests.helpers import email_of, link_in, path_of


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


def change_for(user, new_email, status):
    return EmailChange.objects.create(
        user=user, old_email=email_of(user), new_email=new_email, status=status
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


def test_staff_complete_a_change_with_a_written_reason(staff, make_user, client, mailoutbox):
    alice = make_user()
    change = change_for(alice, "alice.new@example.org", "awaiting_old")
    page = complete_action(client, change)
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert EmailChange.objects.get(pk=change.pk).status == "awaiting_old"

    response = complete_action(client, change, reason="Called her; passport checked.")
    assert response.status_code == 302
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

    viewer.user_permissions.add(Permission.objects.get(codename="change_emailchange"))
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
