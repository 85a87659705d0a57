"""What a project runs once when it adds the app to a user table it already has.

``audit_addresses`` finds what would break the case-insensitive unique
constraint (one mailbox on two accounts) and addresses no link can reach;
``trust_existing`` marks the others verified. The management commands
``verified_email_audit_addresses`` and ``verified_email_trust_existing`` are
their front ends; docs/adopting.md says when to run them and what trusting
costs.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import addresses
from .models import EmailChange

#: Rows read per query while scanning the whole user table.
SCAN_CHUNK = 2000


@dataclass
class Audit:
    """The problems of a user table's addresses, keys as the database has them."""

    users: int = 0
    #: comparable form -> [(pk, stored address), ...], two or more per entry.
    duplicates: dict = field(default_factory=dict)
    #: [(pk, stored address), ...] that no link can be sent to.
    invalid: list = field(default_factory=list)
    #: pks of users without an address (allowed: they use the "add email" flow).
    blank: list = field(default_factory=list)

    @property
    def problems(self):
        return len(self.duplicates) + len(self.invalid)

    def shared(self, address):
        return addresses.comparable(address) in self.duplicates


def audit_addresses(using=None):
    """Scan every user's address once; return the duplicates, invalid and blank ones.

    Two addresses are one when the app would call them one (``comparable``:
    letter case, Unicode form, a trailing dot, the IDN spelling of the
    domain), which covers every pair the quickstart's ``Upper(...)``
    constraint refuses.
    """
    User = get_user_model()
    name = User.get_email_field_name()
    audit = Audit()
    first_seen: dict[str, tuple[object, str]] = {}
    rows = (
        User._default_manager.using(using)
        .order_by("pk")
        .values_list("pk", name)
        .iterator(chunk_size=SCAN_CHUNK)
    )
    for pk, address in rows:
        audit.users += 1
        if not address:
            audit.blank.append(pk)
            continue
        if not addresses.is_valid(address):
            audit.invalid.append((pk, address))
        key = addresses.comparable(address)
        if key in audit.duplicates:
            audit.duplicates[key].append((pk, address))
        elif key in first_seen:
            audit.duplicates[key] = [first_seen.pop(key), (pk, address)]
        else:
            first_seen[key] = (pk, address)
    return audit


@dataclass
class Trust:
    """What ``trust_existing`` did (or, in a dry run, would do)."""

    trusted: int = 0
    batches: int = 0
    already_verified: int = 0
    skipped_blank: int = 0
    skipped_invalid: int = 0
    skipped_shared: int = 0
    skipped_used_the_app: int = 0


def _never_verified(User):
    # email_verified_at too: a user whose flag was cleared since (an address
    # set in the admin) has it cleared as well, but one verified through the
    # app has both set, and neither is ever overwritten here.
    return User._default_manager.filter(is_email_verified=False, email_verified_at__isnull=True)


def trust_existing(*, batch_size=1000, dry_run=False, using=None, now=None):
    """Mark every existing, valid, unshared address verified, in batches.

    Touches only users who were never verified (flag off and no
    ``email_verified_at``) and never used the app's change flow (no
    ``EmailChange`` row: an open change was started under the rules of an
    unverified address). Skips blank and invalid addresses, and any address
    another account also has. Each batch is locked, checked again and
    updated in its own transaction, with ``update()``: the address does not
    change, so the mixin's save logic has nothing to clear, and no signal is
    sent (nothing was proved). Running it twice trusts nobody twice.
    """
    User = get_user_model()
    now = now or timezone.now()
    result = Trust()
    audit = audit_addresses(using)
    result.already_verified = (
        User._default_manager.using(using).count() - _never_verified(User).using(using).count()
    )
    last_pk = None
    while True:
        with transaction.atomic(using=using):
            rows = _next_batch(User, last_pk, batch_size, using, lock=not dry_run)
            if not rows:
                break
            last_pk = rows[-1][0]
            trusted = _trustable(rows, audit, result, using)
            if trusted and not dry_run:
                result.trusted += (
                    _never_verified(User)
                    .using(using)
                    .filter(pk__in=trusted)
                    .update(is_email_verified=True, email_verified_at=now)
                )
            else:
                result.trusted += len(trusted)
            result.batches += 1
    return result


def _next_batch(User, last_pk, batch_size, using, *, lock):
    """The next never-verified users after ``last_pk``: ``(pk, address)`` of each."""
    batch = _never_verified(User).using(using).order_by("pk")
    if last_pk is not None:
        batch = batch.filter(pk__gt=last_pk)
    if lock:
        # Locked while checked and updated: a concurrent change of the
        # address or a verification cannot slip in between.
        batch = batch.select_for_update()
    return list(batch.values_list("pk", User.get_email_field_name())[:batch_size])


def _trustable(rows, audit, result, using):
    """The users of ``rows`` whose address may be trusted; count the others in ``result``."""
    used_the_app = set(
        EmailChange.objects.using(using)
        .filter(user_id__in=[pk for pk, _ in rows])
        .values_list("user_id", flat=True)
    )
    trusted = []
    for pk, address in rows:
        if not address:
            result.skipped_blank += 1
        elif not addresses.is_valid(address):
            result.skipped_invalid += 1
        elif audit.shared(address):
            result.skipped_shared += 1
        elif pk in used_the_app:
            result.skipped_used_the_app += 1
        else:
            trusted.append(pk)
    return trusted
