"""The business steps of verifying and changing an address. No HTTP here.

Both front ends (HTML views, JSON API) call these functions and map the
exceptions of ``exceptions.py`` to their own responses, so every rule lives
in one place. ``base_url`` is the scheme and host to build links with when
the ``BASE_URL`` setting is not set (the front ends pass the request's
validated host).

One module per flow: ``verify``, ``change``, ``revert``, ``deny``, ``recovery``
(the lost-mailbox path) and ``codes`` (the one-time codes that stand in for a
link); every link they take is read by ``links`` (one ladder of checks),
what else they share is in ``_common``, and the queries on ``EmailChange``'s
queryset. ``takeover`` holds what a revert, a deny and a recovery's stop do
to access (end every session, retire the password) and the "set a new
password" token that follows. Call the
verbs through this package (``flows.confirm_change(...)``).
"""

from .change import (
    cancel_change,
    change_lock,
    check_change,
    confirm_change,
    pending_change,
    read_change_link,
    request_change,
    resend_change,
    resend_change_for_expired_link,
)
from .codes import confirm_change_by_code, confirm_verification_by_code
from .deny import check_deny, confirm_deny, confirm_deny_by_code
from .notices import send_owed_notices
from .reauth import reauthentication, send_reauth_code
from .recovery import (
    check_stop,
    complete_by_staff,
    complete_due,
    complete_if_due,
    complete_scheduled,
    confirm_stop,
)
from .revert import check_keep, check_revert, complete_due_reverts, confirm_keep, confirm_revert
from .takeover import (
    check_set_password,
    confirm_set_password,
    retire_access,
    revoke_access,
    revoke_owed,
    set_password_token,
    validate_new_password,
)
from .verify import (
    check_verification,
    confirm_verification,
    resend_verification_for_expired_link,
    send_verification,
)

__all__ = [
    "cancel_change",
    "change_lock",
    "check_change",
    "check_deny",
    "check_keep",
    "check_revert",
    "check_set_password",
    "check_stop",
    "check_verification",
    "complete_by_staff",
    "complete_due",
    "complete_due_reverts",
    "complete_if_due",
    "complete_scheduled",
    "confirm_change",
    "confirm_change_by_code",
    "confirm_deny",
    "confirm_deny_by_code",
    "confirm_keep",
    "confirm_revert",
    "confirm_set_password",
    "confirm_stop",
    "confirm_verification",
    "confirm_verification_by_code",
    "pending_change",
    "read_change_link",
    "reauthentication",
    "request_change",
    "resend_change",
    "resend_change_for_expired_link",
    "resend_verification_for_expired_link",
    "retire_access",
    "revoke_access",
    "revoke_owed",
    "send_owed_notices",
    "send_reauth_code",
    "send_verification",
    "set_password_token",
    "validate_new_password",
]

# Names these verbs had in the documentation before 0.1: kept for callers.
revert_change = confirm_revert
resend_verification_in_place_of = resend_verification_for_expired_link
resend_change_in_place_of = resend_change_for_expired_link
