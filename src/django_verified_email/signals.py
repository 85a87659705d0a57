"""Signals sent by the flows, always after the database transaction commits.

Every signal is sent with ``sender`` = the user model class and ``user`` = the
user instance. The change signals add ``change`` (an ``EmailChange``). The
other arguments, with their types, are listed with each signal; receivers
should accept ``**kwargs`` too, for arguments added later.
"""

from django.dispatch import Signal

#: A verification link was handed to the mail backend. Arguments: ``user``, ``email: str``.
verification_sent = Signal()

#: The user's current address was verified. Arguments: ``user``, ``email: str``.
email_verified = Signal()

#: A change was requested and its first link sent. Arguments: ``user``, ``change``.
email_change_requested = Signal()

#: The old address confirmed the change; the new address gets its link next.
#: Arguments: ``user``, ``change``.
email_change_old_confirmed = Signal()

#: The change completed. Arguments: ``user``, ``change``, ``old_email: str``,
#: ``new_email: str``.
email_changed = Signal()

#: The user cancelled the pending change. Arguments: ``user``, ``change``.
email_change_cancelled = Signal()

#: A wrong password was given to start a change. Arguments: ``user``, ``attempts: int``.
reauthentication_failed = Signal()

#: Too many wrong passwords: changes are locked. Arguments: ``user``, ``retry_after: int``
#: (seconds).
user_locked_out = Signal()

#: The old address used the "this wasn't me" link of a completed change: the
#: address is back to ``change.old_email`` (verified), the user's pending change
#: is cancelled, and further changes are locked for ``CHANGE_LOCK_AFTER_REVERT``
#: seconds. Every session of the account ended and its password was retired
#: (the mailbox owner sets a new one). A good place to freeze money movements
#: and alert staff (docs/signals.md has the recipe).
#: Arguments: ``user``, ``change``, ``restored_email: str``, ``discarded_email: str``.
email_change_reverted = Signal()

#: A recovery (the old mailbox is lost) was confirmed by its new address and
#: now waits: it completes by itself at ``completes_at`` unless the old
#: address stops it or the user cancels it. Arguments: ``user``, ``change``,
#: ``completes_at: datetime``.
email_change_scheduled = Signal()
#: The old address said "this wasn't me" to a change waiting for it: the change
#: is ``denied``, every session of the account ended and its password was
#: retired (the mailbox owner sets a new one). Arguments: ``user``, ``change``.
email_change_denied = Signal()

#: An account that had typed an address and never proved it lost it, because
#: another account proved it (a completed change or a revert). Its address is
#: now blank and unverified. Arguments: ``user`` (the account that lost it),
#: ``email: str`` (the address it lost), ``taken_by`` (the account that took it).
email_address_released = Signal()

#: An account that had typed an address and never proved it was handed to
#: ``RELEASE_UNPROVEN_HOLDER`` because another account proved the address (a
#: completed change or a revert) and the address could not simply be blanked
#: (it is the login name, or required); the hook took it off. With the
#: default hook the account is now inactive, with a placeholder address.
#: Arguments: ``user`` (the account that lost it, as the hook left it),
#: ``address: str`` (the address it lost), ``taken_by`` (the account that took it).
unproven_holder_released = Signal()
