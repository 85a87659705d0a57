"""Normalising and comparing email addresses.

One mailbox can be spelt many ways: ``Alice@Example.COM``, with full-width
characters (NFKC: a full-width at sign or letters), with a trailing dot on the
domain (``alice@example.com.``), or with an internationalised domain in
Unicode (``bücher.de``) or in its ASCII form (``xn--bcher-kva.de``). Every
rule of the app (same address, address taken, one-time link fingerprints)
goes through ``comparable`` so these spellings are one address everywhere.

Internationalised domains are converted with IDNA 2008 and UTS 46
non-transitional processing (the ``idna`` package), as registries and current
browsers do. Python's own ``"idna"`` codec, which Django's mail layer uses,
is IDNA 2003: it maps ``straße.de`` to ``strasse.de``, another domain. So
messages are addressed to ``ascii_form`` (which that codec leaves as it is),
and a domain that has no IDNA 2008 form is not a valid address.
"""

import json
import re
import unicodedata
from email.errors import MessageError
from functools import cache
from importlib.resources import files

import idna
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db.models import Q, Value

from .conf import app_settings
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


class _NoIDNA(ValueError):
    """The domain has no IDNA 2008 form: no mail can be addressed to it."""


def _idna_forms(domain):
    """The domain as (Unicode form, ASCII form) under UTS 46 non-transitional rules."""
    # Maps case, width and the ideographic full stop ("例え。テスト") first,
    # keeping ß and ς as they are (non-transitional).
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except idna.IDNAError as error:
        raise _NoIDNA from error
    unicode_labels, ascii_labels = [], []
    for label in mapped.split("."):
        try:
            if label.isascii() and not label.startswith("xn--"):
                # Plain ASCII stays as it is: IDNA 2008 would refuse some host
                # names mail servers accept (``a--b``, ``_dmarc``).
                unicode_labels.append(label)
                ascii_labels.append(label)
            elif label.isascii():
                unicode_labels.append(idna.decode(label))
                ascii_labels.append(label)
            else:
                unicode_labels.append(label)
                ascii_labels.append(idna.encode(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError) as error:
            raise _NoIDNA from error
    return ".".join(unicode_labels), ".".join(ascii_labels)


def _domain_forms(domain):
    """The domain as (Unicode form, ASCII form), both lower-case, no trailing dot."""
    domain = domain.lower()
    # "example.com." is the fully qualified spelling of "example.com".
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]
    if domain.isascii() and "xn--" not in domain:
        return domain, domain
    try:
        return _idna_forms(domain)
    except _NoIDNA:
        # Not a valid IDN: leave it for ``is_valid`` to refuse.
        return domain, domain


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


def shown_ascii(address):
    """Return the ASCII form to show beside ``address``, or "" if its domain is plain ASCII.

    ``ex\u0430mple.com`` (a Cyrillic a) reads like ``example.com``; its ASCII
    form, ``xn--exmple-4nf.com``, does not. Pages and emails that ask someone
    to approve an address show both.
    """
    _local, sep, domain = _split(address)
    if not sep or domain.isascii():
        return ""
    return ascii_form(address)


@cache
def _prototypes():
    # Generated by scripts/generate-confusables from Unicode's confusables data.
    return json.loads((files(__package__) / "confusables.json").read_text(encoding="utf-8"))


def skeleton(address):
    """Return the look-alike skeleton of an address (Unicode TR 39, one-character mappings).

    Two addresses with one skeleton look the same to a reader: ``ex\u0430mple.com``
    (a Cyrillic a) and ``example.com``, ``examp1e.com`` and ``example.com``.
    """
    table = _prototypes()
    # No case folding: "I" and "l" look alike, "I" and "i" do not.
    text = unicodedata.normalize("NFD", normalize(address))
    mapped = "".join(table.get(char, char) for char in text)
    return unicodedata.normalize("NFD", mapped)


def looks_alike(first, second):
    """Return whether two different addresses look the same to a reader."""
    if not first or not second or same_address(first, second):
        return False
    return skeleton(first) == skeleton(second)


def of_user(user) -> str:
    """Return the user's address, from whatever field ``EMAIL_FIELD`` names ("" if none)."""
    return getattr(user, user.get_email_field_name(), "") or ""


def is_valid(address):
    """Return whether mail can be addressed to ``address``, in its stored form.

    Beyond Django's validator: the domain must have an IDNA 2008 form (no
    U+2028, no label too long once encoded), Django's mail layer must accept
    the address in a header (what it would refuse only when sending, after
    the change was saved), and, unless ``ALLOW_LOCAL_ADDRESSES``, the domain
    must be a public-looking host name: not a literal (``a@[10.0.0.5]``),
    not a dotless name (``root@localhost``), which reach the mail server's
    own network rather than someone's mailbox.
    """
    if not address or len(address) > MAX_LENGTH:
        return False
    local, sep, domain = _split(address)
    if not sep:
        return False
    domain = domain.lower().removesuffix(".")
    try:
        ascii_domain = (
            domain if domain.isascii() and "xn--" not in domain else (_idna_forms(domain)[1])
        )
    except _NoIDNA:
        return False
    ascii_address = f"{local}@{ascii_domain}"
    if len(ascii_address) > MAX_LENGTH:
        return False
    try:
        validate_email(address)
        validate_email(ascii_address)
    except ValidationError:
        return False
    if not app_settings.ALLOW_LOCAL_ADDRESSES and (
        ascii_domain.startswith("[") or "." not in ascii_domain
    ):
        return False
    return _mail_layer_accepts(ascii_address)


#: An address of plain ASCII atoms, ``local@host.name``: the mail layer's
#: header parser reads every such address without a defect, so it need not
#: build a message to say so (most addresses; building one takes 0.3 ms).
_PLAIN_ATOMS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def _mail_layer_shortcut(address):
    """Whether ``address`` is plain atoms the mail layer reads as they are."""
    # "=?" starts an RFC 2047 encoded word, which the header parser decodes.
    return "=?" not in address and _PLAIN_ATOMS.fullmatch(address) is not None


def _mail_layer_accepts(address):
    """Return whether Django's mail layer can put ``address`` in a To header."""
    if _mail_layer_shortcut(address):
        return True
    try:
        EmailMessage(to=[address], from_email="check@example.com").message()
    except (ValueError, UnicodeError, MessageError):
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


def users_with_address(address, using=None):
    """Users whose address is ``address``: every flow's "address taken?" lookup.

    "The same address" is what ``comparable`` says, or what the database's
    case-insensitive function says (PostgreSQL's LOWER() folds U+0130 to a
    plain "i", Python to "i" + U+0307): the lookup matches both, so the host's
    unique constraint never refuses a write the lookup allowed. It compares
    with the expression of the case-insensitive index the user model declares
    (``indexes.email_index``), or with the generated column of the folded
    address that index is on, so that index serves it; without one, with
    ``__iexact`` (a full scan on a large table: check ``verified_email.W006``).
    On ``using`` when given: after a lock, the locked row's database.
    """
    return users_with_addresses([address], using=using)


def users_with_addresses(found, using=None):
    """Users whose address is any of ``found``, in one lookup (``users_with_address``)."""
    model = get_user_model()
    users = model._default_manager.db_manager(using)
    index = email_index(model)
    every = sorted({spelling for address in found for spelling in spellings(address)})
    if index is None:
        field = model.get_email_field_name()
        query = Q()
        for spelling in every:
            query |= Q(**{f"{field}__iexact": spelling})
        return users.filter(query)
    folded = [index.fold(Value(spelling)) for spelling in every]
    # A partial index serves only a query that repeats its condition. It is
    # on the address alone (email_index checks), and a blank address, the
    # usual one left out, is never looked up. One filter() for both: each
    # call copies the query.
    condition = () if index.condition is None else (index.condition,)
    if index.generated is not None:
        # The column already holds the folded address (the MariaDB and MySQL
        # recipe): comparing it, not LOWER(email), is what its index serves.
        return users.filter(Q(**{f"{index.generated}__in": folded}), *condition)
    users = users.alias(**{FOLDED: index.fold(index.field)})
    return users.filter(Q(**{f"{FOLDED}__in": folded}), *condition)


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
