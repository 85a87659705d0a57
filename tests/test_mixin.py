"""VerifiedEmailMixin: an address set outside the app is never verified."""

import pytest
from django import forms
from django.db.models.functions import Upper
from django.test import Client

from django_verified_email.models import VerifiedEmailMixin
from tests.helpers import email_of, link_path, request_change


def reloaded(user):
    return type(user)._default_manager.get(pk=user.pk)


def test_the_mixin_adds_its_fields_to_a_model_with_its_own_email_field(django_user_model):
    assert issubclass(django_user_model, VerifiedEmailMixin)
    assert django_user_model.get_email_field_name() == "email_address"
    assert not hasattr(django_user_model, "email")
    field_names = {field.name for field in django_user_model._meta.get_fields()}
    assert {"is_email_verified", "email_verified_at"} <= field_names


def test_new_users_start_unverified(make_user):
    assert not make_user(verified=False, username="u1").is_email_verified
    assert reloaded(make_user(username="u2", email="u2@example.com")).is_email_verified


def test_save_with_a_new_address_clears_verification(make_user, django_user_model):
    user = reloaded(make_user())
    user.mark_email_verified()
    user.save()

    user = reloaded(user)
    user.email_address = "someone-else@example.com"
    user.save()

    user = reloaded(user)
    assert email_of(user) == "someone-else@example.com"
    assert not user.is_email_verified
    assert user.email_verified_at is None


def test_save_with_update_fields_clears_verification_in_the_database(make_user):
    user = make_user()
    user.mark_email_verified()
    user.save()

    user.email_address = "someone-else@example.com"
    user.save(update_fields=["email_address"])

    stored = reloaded(user)
    assert email_of(stored) == "someone-else@example.com"
    assert not stored.is_email_verified
    assert stored.email_verified_at is None


def test_saving_other_fields_keeps_an_unsaved_address_change_out_of_it(make_user):
    user = make_user()
    user.mark_email_verified()
    user.save()

    user.email_address = "not-saved-yet@example.com"
    user.username = "alice2"
    user.save(update_fields=["username"])

    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert stored.is_email_verified
    assert user.is_email_verified

    # Saving the address later still counts as a change.
    user.save()
    stored = reloaded(user)
    assert email_of(stored) == "not-saved-yet@example.com"
    assert not stored.is_email_verified


def test_a_case_only_change_keeps_verification(make_user):
    user = reloaded(make_user(email="alice@example.com"))
    user.email_address = "Alice@EXAMPLE.com"
    user.save()

    stored = reloaded(user)
    assert email_of(stored) == "Alice@EXAMPLE.com"
    assert stored.is_email_verified


def test_an_address_loaded_deferred_still_counts_as_changed(make_user, django_user_model):
    user = make_user()

    partial = django_user_model.objects.only("username").get(pk=user.pk)
    partial.email_address = "someone-else@example.com"
    partial.save()

    stored = reloaded(user)
    assert email_of(stored) == "someone-else@example.com"
    assert not stored.is_email_verified


def test_a_model_form_edit_like_the_admin_clears_verification(make_user, django_user_model):
    user = make_user()
    form_class = forms.modelform_factory(django_user_model, fields=["username", "email_address"])

    form = form_class(
        {"username": "alice", "email_address": "admin-set@example.com"},
        instance=reloaded(user),
    )
    assert form.is_valid(), form.errors
    form.save()

    stored = reloaded(user)
    assert email_of(stored) == "admin-set@example.com"
    assert not stored.is_email_verified


def test_a_model_form_edit_without_an_address_change_keeps_verification(
    make_user, django_user_model
):
    user = make_user()
    form_class = forms.modelform_factory(django_user_model, fields=["username", "email_address"])

    form = form_class(
        {"username": "alice-renamed", "email_address": "alice@example.com"},
        instance=reloaded(user),
    )
    assert form.is_valid(), form.errors
    form.save()

    assert reloaded(user).is_email_verified


def test_mark_email_verified_is_the_trusted_path(make_user):
    user = reloaded(make_user(verified=False))
    user.email_address = "new@example.com"
    user.mark_email_verified()
    user.save()

    stored = reloaded(user)
    assert stored.is_email_verified
    assert stored.email_verified_at is not None

    # Trust lasts for one save only.
    stored.email_address = "later@example.com"
    stored.save()
    assert not reloaded(user).is_email_verified


def test_refresh_from_db_forgets_unsaved_edits(make_user):
    user = make_user()
    user.email_address = "typo@example.com"
    user.refresh_from_db()

    user.save()

    assert reloaded(user).is_email_verified


def test_the_flows_change_keeps_the_new_address_verified(logged_in, user, mailoutbox):
    request_change(logged_in, "new@example.com")
    Client().post(link_path(mailoutbox[-1], to="alice@example.com"))
    Client().post(link_path(mailoutbox[-1], to="new@example.com"))

    stored = reloaded(user)
    assert email_of(stored) == "new@example.com"
    assert stored.is_email_verified
    assert stored.email_verified_at is not None

    # A later ordinary save changes nothing about it.
    stored.username = "alice-renamed"
    stored.save()
    assert reloaded(user).is_email_verified


@pytest.mark.parametrize("verified", [True, False])
def test_the_verified_flag_is_independent_of_other_saves(make_user, verified):
    user = make_user(verified=verified)
    user.set_password("another password")
    user.save()

    assert reloaded(user).is_email_verified is verified


# Bulk writes through the host's manager (VerifiedEmailQuerySetMixin).


@pytest.mark.hardening  # MariaDB assigns left to right: the flag must see the old address
def test_update_of_the_address_clears_the_flag_of_the_rows_it_changes(make_user, django_user_model):
    moved = make_user("moved", "moved@example.com")
    same = make_user("same", "same@example.com")
    users = django_user_model.objects

    users.filter(pk=moved.pk).update(email_address="elsewhere@example.com")
    users.filter(pk=same.pk).update(email_address="SAME@example.com")

    assert not reloaded(moved).is_email_verified
    assert reloaded(moved).email_verified_at is None
    assert reloaded(same).is_email_verified


def test_update_with_an_expression_clears_the_flag(make_user, django_user_model):
    user = make_user()

    django_user_model.objects.filter(pk=user.pk).update(email_address=Upper("email_address"))

    assert not reloaded(user).is_email_verified


def test_update_that_sets_the_flag_itself_is_left_alone(make_user, django_user_model):
    user = make_user(verified=False)

    django_user_model.objects.filter(pk=user.pk).update(
        email_address="imported@example.com", is_email_verified=True
    )

    assert reloaded(user).is_email_verified


def test_bulk_update_of_the_address_clears_the_flag_where_it_changed(make_user, django_user_model):
    moved = make_user("moved", "moved@example.com")
    same = make_user("same", "same@example.com")
    moved, same = reloaded(moved), reloaded(same)
    moved.email_address = "elsewhere@example.com"
    same.email_address = "Same@Example.com"

    django_user_model.objects.bulk_update([moved, same], ["email_address"])

    assert not reloaded(moved).is_email_verified
    assert reloaded(same).is_email_verified
    assert email_of(reloaded(same)) == "Same@Example.com"


def test_update_of_other_fields_keeps_the_flag(make_user, django_user_model):
    user = make_user()

    django_user_model.objects.filter(pk=user.pk).update(is_staff=True)

    assert reloaded(user).is_email_verified


def test_bulk_update_of_instances_loaded_without_the_address_compares_with_the_database(
    make_user, django_user_model
):
    moved = make_user("moved", "moved@example.com")
    same = make_user("same", "same@example.com")
    loaded = django_user_model.objects.defer("email_address").order_by("username")
    moved, same = loaded.filter(pk__in=[moved.pk, same.pk])
    moved.email_address = "elsewhere@example.com"
    same.email_address = "SAME@example.com"

    django_user_model.objects.bulk_update([moved, same], ["email_address"])

    assert not reloaded(moved).is_email_verified
    assert reloaded(same).is_email_verified
