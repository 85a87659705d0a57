"""What a front end does to the session once an address changed in its request.

The flows know nothing of HTTP; both front ends call ``after_address_changed``
with the request that completed (or reverted) a change.
"""

from django.contrib.auth import update_session_auth_hash


def after_address_changed(request, user):
    """Give the request a new session key after ``user``'s address changed.

    A new key means a session id that leaked or was planted before the
    change (session fixation) is worth nothing after it. When the request is
    logged in as ``user``, its session also takes the user's new session hash,
    so it stays logged in while ``LOGOUT_OTHER_SESSIONS`` ends every other one.
    ``request.user`` must have been resolved before the change (Django resolves
    it lazily; Django REST framework before the view runs).
    """
    session = getattr(request, "session", None)
    if session is None:
        return  # token-authenticated API client, or no session middleware
    current = getattr(request, "user", None)
    if current is not None and current.is_authenticated and current.pk == user.pk:
        # Cycles the key too.
        update_session_auth_hash(request, user)
    elif session.session_key:
        session.cycle_key()
