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
from .models import EmailChange, lock_addresses
from .stores import get_store

#: Rows read per query while scanning the whole user table.
SCAN_CHUNK = 2000
#: Spellings looked up per query for other accounts that have the addresses
#: verified (``addresses.spellings``: several per address). Without an index
#: to compare with, the lookup ORs one term per spelling, and SQLite refuses
#: an expression more than 1,000 deep.
HOLDER_SPELLINGS = 400


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
    skipped_taken: int = 0
    skipped_used_the_app: int = 0


def _never_verified(User):
    # Users the store never marked verified (``AddressStore.never_verified``):
    # one verified through the app and cleared since is not trusted again.
    return get_store().never_verified()


def trust_existing(*, batch_size=1000, dry_run=False, using=None, now=None):
    """Mark every existing, valid, unshared address verified, in batches.

    Touches only users who were never verified (flag off and no
    ``email_verified_at``) and never used the app's change flow (no
    ``EmailChange`` row: an open change was started under the rules of an
    unverified address). Skips blank and invalid addresses, and any address
    another account also has: at the audit, in the same batch, or verified
    since (by a flow, or by an earlier batch of this run). Each batch locks
    its users, then their addresses (``models.lock_addresses``, the lock
    every step that verifies an address takes), checks again and is marked
    in its own transaction by the store (``AddressStore.trust``); no signal
    is sent (nothing was proved). Running it twice trusts nobody twice.
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
            trusted = _unclaimed(trusted, result, using, lock=not dry_run)
            if trusted and not dry_run:
                result.trusted += get_store().trust(trusted, now, using)
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
            trusted.append((pk, address))
    return trusted


def _unclaimed(rows, result, using, *, lock):
    """The users of ``rows`` whose address no other account has; count the others.

    The audit is a scan from the start of the run: an address may have been
    typed, or proved, on another account since. Two users of the batch with
    one address are both skipped, as the audit's duplicates are. The
    others' addresses are locked after their users, as a flow locks them,
    so a flow that verifies one waits for the batch, or the batch for it,
    and whichever comes second sees the first's account verified.
    """
    by_address: dict[str, list] = {}
    for pk, address in rows:
        by_address.setdefault(addresses.comparable(address), []).append(pk)
    single = [
        (pk, address) for pk, address in rows if len(by_address[addresses.comparable(address)]) == 1
    ]
    result.skipped_shared += len(rows) - len(single)
    if not single:
        return []
    found = [address for _, address in single]
    if lock:
        lock_addresses(found, using=using)
    held: dict[str, set] = {}
    for chunk in _by_spellings(found):
        for key, pks in get_store().verified_holders(chunk, using).items():
            held.setdefault(key, set()).update(pks)
    trusted = []
    for pk, address in single:
        if held.get(addresses.comparable(address), set()) - {pk}:
            result.skipped_taken += 1
        else:
            trusted.append((pk, address))
    return trusted


def _by_spellings(found):
    """``found`` in chunks of at most ``HOLDER_SPELLINGS`` spellings (one address at least)."""
    chunk: list[str] = []
    size = 0
    for address in found:
        count = len(addresses.spellings(address))
        if chunk and size + count > HOLDER_SPELLINGS:
            yield chunk
            chunk, size = [], 0
        chunk.append(address)
        size += count
    if chunk:
        yield chunk


def drifted(using=None):
    """``(pk, address)`` of users marked verified for an address they no longer have.

    An address written past the app (``update()``, ``bulk_update()``, raw
    SQL) with the profile store: the user already reads as unverified, but
    the row still holds the old address for "taken?". The mixin's flag
    cannot drift this way (``AddressStore.drifted``).
    """
    return list(get_store().drifted(using))


def fix_drift(pks, using=None):
    """Clear the verified state of the drifted users ``pks``; return how many."""
    with transaction.atomic(using=using):
        return get_store().unverify(pks, using, only_drifted=True)


def sync_profiles(*, batch_size=1000, using=None):
    """Create the missing profile rows (the profile store), in batches; return how many.

    Rows are also created on first use, so this is optional: run it once at
    adoption so a user's first request does not write one.
    """
    from .models import PROFILE, VerifiedEmailProfile

    User = get_user_model()
    created, last_pk = 0, None
    while True:
        missing = User._default_manager.using(using).filter(**{f"{PROFILE}__isnull": True})
        if last_pk is not None:
            missing = missing.filter(pk__gt=last_pk)
        pks = list(missing.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return created
        last_pk = pks[-1]
        rows = [VerifiedEmailProfile(user_id=pk) for pk in pks]
        # A row made meanwhile by a first use is left as it is.
        VerifiedEmailProfile.objects.using(using).bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
