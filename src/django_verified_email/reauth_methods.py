"""How a user without a usable password may re-authenticate before a change.

A user with a password types it. One without (a social login) has two ways
that stand in for it, and a host decides which it allows:

- ``CODE``: a one-time code sent to the verified current address
  (``flows.send_reauth_code``);
- ``SECOND_FACTOR``: a one-time password of the user's second factor, sent in
  the request (``otp``), alone.

The default allows ``CODE`` only. An integration that has a policy of its own
installs it once, from its ``ready()`` (``use_policy``), as the allauth
bridge does with allauth's ``ACCOUNT_REAUTHENTICATION_METHODS``. The flows
ask ``passwordless_methods`` and never which policy answered.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

CODE = "code"
SECOND_FACTOR = "second_factor"

#: Allowed when no integration installed a policy.
DEFAULT: frozenset[str] = frozenset({CODE})

#: ``callable(user) -> collection of CODE / SECOND_FACTOR``.
Policy = Callable[[Any], Collection[str]]

_policy: Policy | None = None


def use_policy(policy: Policy | None) -> None:
    """Install ``policy`` for every user; None restores the default."""
    global _policy
    _policy = policy


def passwordless_methods(user: Any) -> frozenset[str]:
    """The ways ``user``, who has no usable password, may re-authenticate by."""
    if _policy is None:
        return DEFAULT
    return frozenset(_policy(user)) & {CODE, SECOND_FACTOR}
