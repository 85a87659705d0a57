"""Signals sent by the flows, always after the database transaction commits.

Every signal is sent with ``sender`` = the user model class and ``user`` = the
user instance. The change signals add ``change`` (an ``EmailChange``).
"""

from django.dispatch import Signal

#: A verification link was handed to the mail backend. Arguments: ``user``, ``email``.
verification_sent = Signal()

#: The user's current address was verified. Arguments: ``user``, ``email``.
email_verified = Signal()

#: A change was requested and its first link sent. Arguments: ``user``, ``change``.
email_change_requested = Signal()

#: The old address confirmed the change; the new address gets its link next.
#: Arguments: ``user``, ``change``.
email_change_old_confirmed = Signal()

#: The change completed. Arguments: ``user``, ``change``, ``old_email``, ``new_email``.
email_changed = Signal()

#: The user cancelled the open change. Arguments: ``user``, ``change``.
email_change_cancelled = Signal()

#: A wrong password was given to start a change. Arguments: ``user``, ``attempts``.
reauthentication_failed = Signal()

#: Too many wrong passwords: changes are locked. Arguments: ``user``, ``retry_after``.
user_locked_out = Signal()

#: The old address used the "this wasn't me" link of a completed change: the
#: address is back to ``change.old_email`` (verified), the user's open change
#: is cancelled, and further changes are locked for ``CHANGE_LOCK_AFTER_REVERT``
#: seconds. A good place to force a password reset or alert staff.
#: Arguments: ``user``, ``change``, ``restored_email``, ``discarded_email``.
email_change_reverted = Signal()
