"""The email policy the app's messages are built with: the one asked for, made faster.

Building a message (``EmailMessage.message()``, which every mail backend
calls, the test outbox included) parses each header with Python's
``email.headerregistry``, whose ``HeaderRegistry`` makes a new class for
every header of every message. That was a third of building one of the
app's messages, and a flow builds four. ``faster(policy)`` is ``policy``
with a registry that makes each header's class once, and parses each value
of the headers that repeat in every message (the MIME structure, the
sender) once: the same classes, the same header objects, the same bytes on
the wire.

Only the policies ``email.policy`` defines (``default``, ``SMTP``, …: what
Django's backends ask for) are made faster, once each; any other (a host's
own, or one cloned per message) is used as it is.
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


#: Headers whose few values repeat in every message (the MIME structure and
#: the sender): each value is parsed once. Header objects are read-only
#: (folding reads the parse tree, never changes it), so one object serves
#: every message. Not the others: they carry the recipient, the date, the
#: message's id, or a subject a host may make personal.
_SHARED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version", "from"})
_PARSED_LIMIT = 256


class _HeaderClassesMadeOnce(HeaderRegistry):
    """A registry that looks up the standard one as it is now, and keeps the classes it makes."""

    def __init__(self, source: HeaderRegistry) -> None:
        super().__init__(source.base_class, source.default_class, use_default_map=False)
        # Shared, not copied: a class the host maps later (map_to_type) is used.
        self.registry = source.registry
        self._made: dict[tuple[type, type], type] = {}
        self._parsed: dict[tuple[str, str], Any] = {}

    def __getitem__(self, name: str) -> Any:
        cls = self.registry.get(name.lower(), self.default_class)
        made = self._made.get((cls, self.base_class))
        if made is None:
            # What HeaderRegistry makes on every call. Two threads may both
            # make one: either class is right.
            made = type("_" + cls.__name__, (cls, self.base_class), {})
            self._made[(cls, self.base_class)] = made
        return made

    def __call__(self, name: str, value: Any) -> Any:
        if type(value) is not str or name.lower() not in _SHARED_HEADERS or "boundary" in value:
            # A multipart boundary is new in every message.
            return self[name](name, value)
        made = self[name]
        key = (name, value)
        header = self._parsed.get(key)
        if header is None or type(header) is not made:
            header = made(name, value)
            if len(self._parsed) >= _PARSED_LIMIT:
                self._parsed.clear()
            self._parsed[key] = header
        return header

    def __getstate__(self) -> dict[str, Any]:
        # A message's policy travels with it when it is pickled (a mail
        # queue); the classes made at run time cannot, and are made again.
        return {**self.__dict__, "_made": {}, "_parsed": {}}


def _made_faster(policy: Any) -> Any:
    factory = getattr(policy, "header_factory", None)
    if type(factory) is not HeaderRegistry:
        return policy
    return policy.clone(header_factory=_HeaderClassesMadeOnce(factory))


_FASTER = {
    id(policy): (policy, _made_faster(policy))
    for policy in (
        email.policy.default,
        email.policy.SMTP,
        email.policy.SMTPUTF8,
        email.policy.HTTP,
        email.policy.strict,
    )
}


def faster(policy: Any) -> Any:
    """Return ``policy`` with header classes made once (itself if not one of ``email.policy``'s)."""
    known = _FASTER.get(id(policy))
    return known[1] if known is not None and known[0] is policy else policy


class FasterMessage:
    """Mixed into an ``EmailMessage``: ``message()`` uses ``faster()`` of the policy asked for."""

    if TAKES_POLICY:

        def message(self, *, policy: Any = email.policy.default) -> Any:
            return super().message(policy=faster(policy))  # type: ignore[misc]
