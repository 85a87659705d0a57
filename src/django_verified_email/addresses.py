"""Normalising and comparing email addresses.

One mailbox can be spelt many ways: ``Alice@Example.COM``, with full-width
characters (NFKC: a full-width at sign or letters), with a trailing dot on the
domain (``alice@example.com.``), or with an internationalised domain in
Unicode (``bücher.de``) or in its ASCII form (``xn--bcher-kva.de``). Every
rule of the app (same address, address taken, one-time link fingerprints)
goes through ``comparable`` so these spellings are one address everywhere.
"""

import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q, Value

from .indexes import email_index

# The alias of the folded address in a lookup's query.
FOLDED = "verified_email_folded_address"

# RFC 5321 caps a path at 256 octets, which leaves 254 for the address itself.
MAX_LENGTH = 254


def _split(address):
    # NFKC first: it turns the full-width at sign and letters into their ASCII forms,
    # so the split below sees the real separator.
    address = unicodedata.normalize("NFKC", address or "").strip()
    local, sep, domain = address.rpartition("@")
    if not sep:
        return address, "", ""
    return local, sep, domain


def _domain_forms(domain):
    """The domain as (Unicode form, ASCII form), both lower-case, no trailing dot."""
    domain = domain.lower()
    # "example.com." is the fully qualified spelling of "example.com".
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]
    try:
        ascii_form = domain.encode("idna").decode("ascii").lower()
        unicode_form = ascii_form.encode("ascii").decode("idna")
    except UnicodeError:
        # Not a valid IDN: leave it for the validator to refuse.
        return domain, domain
    return unicode_form, ascii_form


def normalize(address):
    """The form an address is stored in.

    Spaces stripped, NFKC applied, the domain lower-cased in its Unicode form
    without a trailing dot. The local part keeps its case: some mail servers
    honour it, so the user's spelling is what we write to.
    """
    local, sep, domain = _split(address)
    if not sep:
        return local
    unicode_domain, _ascii_domain = _domain_forms(domain)
    return f"{local}@{unicode_domain}"


def ascii_form(address):
    """The address with its domain in ASCII (punycode) form."""
    local, sep, domain = _split(address)
    if not sep:
        return local
    return f"{local}@{_domain_forms(domain)[1]}"


def comparable(address):
    """The form two addresses are compared in: one mailbox, however it is spelt."""
    return ascii_form(address).casefold()


def same_address(first, second):
    return comparable(first) == comparable(second)


def of_user(user) -> str:
    """Return the user's address, from whatever field ``EMAIL_FIELD`` names ("" if none)."""
    return getattr(user, user.get_email_field_name(), "") or ""


def is_valid(address):
    if not address or len(address) > MAX_LENGTH or len(ascii_form(address)) > MAX_LENGTH:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def email_field_name():
    return get_user_model().get_email_field_name()


def _cased(spelling):
    # NFC after changing case: upper-casing "i" + U+0307 (how Python folds
    # U+0130) gives "I" + U+0307, which only NFC turns back into U+0130.
    for form in (spelling, spelling.lower(), spelling.upper(), spelling.casefold()):
        yield form
        yield unicodedata.normalize("NFC", form)


def spellings(address):
    """The stored spellings of one address a database lookup must match.

    Each is the same address for ``comparable``: both domain forms, with and
    without the trailing dot a host may have stored, in the letter cases
    Python knows (lower, upper, case-folded). The database compares them with
    its own case-insensitive function, so a stored spelling it folds like
    any of these is found too.
    """
    key = comparable(address)
    found: set[str] = set()
    for base in {normalize(address), ascii_form(address)}:
        for cased in _cased(base):
            found.update((cased, f"{cased}."))
    return sorted(spelling for spelling in found if comparable(spelling) == key)


def address_q(field, address):
    """A filter on ``field`` matching ``address`` in any letter case or domain form."""
    query = Q()
    for spelling in spellings(address):
        query |= Q(**{f"{field}__iexact": spelling})
    return query


def users_with_address(address):
    """Users whose address is ``address``: every flow's "address taken?" lookup.

    "The same address" is what ``comparable`` says, or what the database's
    case-insensitive function says (PostgreSQL's LOWER() folds U+0130 to a
    plain "i", Python to "i" + U+0307): the lookup matches both, so the host's
    unique constraint never refuses a write the lookup allowed. It compares
    with the expression of the case-insensitive index the user model declares
    (``indexes.email_index``), so that index serves it; without one, with
    ``__iexact`` (a full scan on a large table: check ``verified_email.W006``).
    """
    model = get_user_model()
    users = model._default_manager
    index = email_index(model)
    if index is None:
        return users.filter(address_q(model.get_email_field_name(), address))
    users = users.alias(**{FOLDED: index.fold(index.field)}).filter(
        **{f"{FOLDED}__in": [index.fold(Value(spelling)) for spelling in spellings(address)]}
    )
    # A partial index serves only a query that repeats its condition. It is
    # on the address alone (email_index checks), and a blank address, the
    # usual one left out, is never looked up.
    return users.filter(index.condition) if index.condition is not None else users


def masked(address):
    """Return the address with its local part hidden but for one letter: ``n•••@example.org``.

    Enough for the owner to recognise it, not enough for a stranger who
    reads the message (or the mailbox of an old address) to learn it.
    """
    local, sep, domain = _split(address)
    if not sep:
        return "•••"
    return f"{local[:1]}•••@{domain}"


def is_login(user) -> bool:
    """Return whether the user signs in with their address (it is ``USERNAME_FIELD``)."""
    return user.get_email_field_name() == user.USERNAME_FIELD
