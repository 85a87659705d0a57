"""Normalising and comparing email addresses."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# RFC 5321 caps a path at 256 octets, which leaves 254 for the address itself.
MAX_LENGTH = 254


def normalize(address):
    """Strip spaces and lower-case the domain (the local part may be case-sensitive)."""
    address = (address or "").strip()
    local, sep, domain = address.rpartition("@")
    if not sep:
        return address
    return f"{local}@{domain.lower()}"


def comparable(address):
    """The form two addresses are compared in: one mailbox, however it is spelt."""
    return normalize(address).casefold()


def same_address(first, second):
    return comparable(first) == comparable(second)


def is_valid(address):
    if not address or len(address) > MAX_LENGTH:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def email_field_name():
    return get_user_model().get_email_field_name()


def users_with_address(address):
    """Users whose address is ``address`` in any letter case."""
    field = email_field_name()
    return get_user_model()._default_manager.filter(**{f"{field}__iexact": normalize(address)})
