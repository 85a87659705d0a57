"""The email policy the app's messages are built with: the one asked for, made faster.

Building a message (``EmailMessage.message()``, which every mail backend
calls, the test outbox included) parses each header with Python's
``email.headerregistry``, whose ``HeaderRegistry`` makes a new class for
every header of every message. That was a third of building one of the
app's messages, and a flow builds four. ``faster(policy)`` is ``policy``
with a registry that makes each header's class once: the same classes, the
same parsing, the same bytes on the wire. A policy whose header factory is
not the standard registry (a host's own) is left as it is.
"""

from __future__ import annotations

import email.policy
import inspect
from email.headerregistry import HeaderRegistry
from typing import Any

from django.core.mail import EmailMessage

#: Django 6.0 builds messages with ``email.policy`` (``message(policy=...)``);
#: Django 5.2's legacy MIME classes take none.
TAKES_POLICY = "policy" in inspect.signature(EmailMessage.message).parameters


class _HeaderClassesMadeOnce(HeaderRegistry):
    def __init__(self, source: HeaderRegistry) -> None:
        super().__init__(source.base_class, source.default_class, use_default_map=False)
        self.registry.update(source.registry)
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            # Two threads may both make one: either class is right.
            made = self._made[key] = super().__getitem__(name)
        return made


_faster: dict[int, tuple[Any, Any]] = {}


def faster(policy: Any) -> Any:
    """Return ``policy`` with header classes made once (itself if its factory is not standard)."""
    known = _faster.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    factory = getattr(policy, "header_factory", None)
    if type(factory) is HeaderRegistry:
        result = policy.clone(header_factory=_HeaderClassesMadeOnce(factory))
    else:
        result = policy
    # Keyed by identity, holding the policy so its id is never reused: the
    # policies asked for are the module constants of ``email.policy``.
    _faster[id(policy)] = (policy, result)
    return result


class FasterMessage:
    """Mixed into an ``EmailMessage``: ``message()`` uses ``faster()`` of the policy asked for."""

    if TAKES_POLICY:

        def message(self, *, policy: Any = email.policy.default) -> Any:
            return super().message(policy=faster(policy))  # type: ignore[misc]
