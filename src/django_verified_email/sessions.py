"""What a front end does to the session once an address changed in its request.

The flows know nothing of HTTP; both front ends call ``after_address_changed``
with the request that completed a change, and ``end_this_session`` with the
request that reverted or denied one (it logs out only the refused account).
"""

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router, transaction

from .middleware import remember_epoch


def _cycle_key(session):
    if isinstance(session, DatabaseSessionStore):
        # The new row and the old row's deletion in one transaction (the
        # completing one, when the sessions share its database): no commit
        # of their own, and no moment when both keys work.
        with transaction.atomic(using=router.db_for_write(session.model), savepoint=False):
            session.cycle_key()
    else:
        session.cycle_key()


def after_address_changed(request, user, *, session_user=None):
    """Give the request a new session key after ``user``'s address changed.

    A new key means a session id that leaked or was planted before the
    change (session fixation) is worth nothing after it. When the request is
    logged in as ``user``, its session also takes the user's new session hash,
    so it stays logged in while ``LOGOUT_OTHER_SESSIONS`` ends every other one.
    ``session_user`` is who the session was logged in as before the change
    (default ``request.user``, which must have been resolved before it: Django
    resolves it lazily).
    """
    session = getattr(request, "session", None)
    if session is None:
        return  # token-authenticated API client, or no session middleware
    current = session_user if session_user is not None else getattr(request, "user", None)
    if current is not None and current.is_authenticated and current.pk == user.pk:
        # What update_session_auth_hash() does, without its request.user
        # check: an API view that authenticates nobody has an anonymous one.
        _cycle_key(session)
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        # Without the mixin the hash does not carry the session epoch: the
        # session does (``middleware``), and this one moves with the change.
        remember_epoch(None, request, user)
    elif session.session_key:
        _cycle_key(session)


def end_this_session(request, user):
    """Log the request out after a revert or a deny, if it is logged in as ``user``.

    The flow already ended every stored session of ``user``
    (``takeover.retire_access`` moved the session epoch and retired the
    password): this empties the one the request carries too, with a new key,
    so the browser that clicked is logged out at once rather than on its next
    request. A deny or a revert means someone else had this account; the
    clicking browser may be theirs.

    A session logged in as anyone else is left alone: the links work without
    a session, so a page of another site can post one (an intruder's own
    deny link) from the victim's browser, and with ``SameSite=None`` cookies
    that request carries the victim's session. Read from the session's stored
    user id, not ``request.user``: the moved epoch already made that
    anonymous for the refused account.
    """
    session = getattr(request, "session", None)
    if session is None:
        return
    logged_in_as = session.get(SESSION_KEY)
    if logged_in_as is None or str(logged_in_as) != user._meta.pk.value_to_string(user):
        return
    session.flush()
    if hasattr(request, "user"):
        request.user = AnonymousUser()
