"""Emails from one template each, its blocks rendered as Django renders a page.

An email is a template with the blocks ``subject``, ``text_body`` and
``html_body``, which a host overrides by path, often with a template that
extends ours. Each block has to come out as Django would render it in a page:
through the whole ``{% extends %}`` chain, with nested blocks and
``{{ block.super }}``. Django's public API renders whole templates, not
blocks, so a small template extends the email's and wraps each block's
``{{ block.super }}`` in markers nobody can guess; it is rendered once, and
each block is the text between its markers.
"""

import email.policy
import secrets
import weakref
from typing import Any

import django
from django.core import mail
from django.template import Context, Engine, Template

#: The blocks of an email's template.
BLOCKS = ("subject", "text_body", "html_body")

#: Only the HTML body is HTML: escaping an address with an apostrophe in a
#: subject or plain-text body would garble it.
HTML_BLOCKS = {"html_body"}

#: RFC 5322's limit on a line of a message, in bytes, without its CRLF.
MAX_LINE_BYTES = 998


def _long_lines_allowed(policy: Any) -> Any:
    """``policy``, with text bodies sent as they are (7bit or 8bit) up to RFC 5322's limit.

    Django 6.0 builds messages with ``email.policy``, which quoted-printable
    encodes any text with a line longer than ``max_line_length`` (78): every
    link of ours is one, so a printed message (the console backend, a mail
    log) shows each link cut by ``=`` soft breaks, and the ``=`` in a token
    as ``=3D``. Django 5.2 sent such a body as it is, up to the 998-byte line
    limit; so does this. Only the bodies are built with it: the message keeps
    ``policy`` for its headers.
    """
    return policy.clone(max_line_length=MAX_LINE_BYTES)


#: The names the wrapper reads its parent and its markers under: in the
#: context, under names nobody uses (random, once per process, so that the
#: wrapper's source is the same for every message and compiled once).
_NAME = f"verified_email_rendering_{secrets.token_hex(8)}"
_PARENT = f"{_NAME}_parent"


def _wrapped(name):
    """An override of block ``name`` that renders it as it is, between two markers.

    The markers come from the context (``_NAME``), as they are (never
    escaped): they are new for every message, and the source stays the same.
    """
    escape = "on" if name in HTML_BLOCKS else "off"
    start, end = f"{_NAME}_{name}_start", f"{_NAME}_{name}_end"
    return (
        f"{{% block {name} %}}{{% autoescape off %}}{{{{ {start} }}}}{{% endautoescape %}}"
        f"{{% autoescape {escape} %}}{{{{ block.super }}}}{{% endautoescape %}}"
        f"{{% autoescape off %}}{{{{ {end} }}}}{{% endautoescape %}}{{% endblock %}}"
    )


#: The compiled wrapper of each set of block names, by engine: an engine
#: replaced (``TEMPLATES`` changed) gets wrappers of its own, and drops its
#: old ones with it. Only our own constant source is kept here: the
#: template it extends is looked up for every message (``get_template``, as
#: the engine's loaders and ``DEBUG`` say), and ``{% extends %}`` resolves it
#: at render time.
_wrappers: weakref.WeakKeyDictionary[Engine, dict[tuple[str, ...], Template]] = (
    weakref.WeakKeyDictionary()
)


def _wrapper(engine, names):
    compiled = _wrappers.setdefault(engine, {})
    wrapper = compiled.get(names)
    if wrapper is None:
        source = f"{{% extends {_PARENT} %}}" + "".join(_wrapped(name) for name in names)
        wrapper = compiled[names] = engine.from_string(source)
    return wrapper


def render_blocks(template_name, context, names):
    """Render the named blocks of a template, following its ``{% extends %}`` chain.

    Returns each name's text, stripped; ``""`` for a block the template does
    not have (nor render).
    """
    engine = Engine.get_default()
    names = tuple(names)
    token = secrets.token_hex(16)
    markers = {name: (f"[{token}:{name}[", f"]{token}:{name}]") for name in names}
    placed = {}
    for name, (start, end) in markers.items():
        placed[f"{_NAME}_{name}_start"] = start
        placed[f"{_NAME}_{name}_end"] = end
    # {% extends %} takes a template object, so the name is looked up once,
    # here, as get_template() does.
    output = _wrapper(engine, names).render(
        Context({**context, **placed, _PARENT: engine.get_template(template_name)})
    )
    rendered = {}
    for name, (start, end) in markers.items():
        _, found, rest = output.partition(start)
        text, found_end, _ = rest.partition(end)
        if not (found and found_end):
            rendered[name] = ""
            continue
        # A block the template nests in another one of these.
        for other in markers.values():
            for marker in other:
                text = text.replace(marker, "")
        rendered[name] = text.strip()
    return rendered


class TemplatedEmail(mail.EmailMultiAlternatives):
    """A message whose subject, text and HTML come from the blocks of one template."""

    #: Whom the message was built for (``emails.build`` sets it).
    user: Any = None

    def __init__(self, *, template_name=None, context=None, **kwargs):
        super().__init__(**kwargs)
        self.template_name = template_name
        self.context = {} if context is None else context

    def render(self):
        blocks = render_blocks(self.template_name, self.context, BLOCKS)
        # A subject is a single header line: never let a template break it.
        self.subject = " ".join(blocks["subject"].split())
        self.body = blocks["text_body"]
        html = blocks["html_body"]
        if self.body and html:
            self.attach_alternative(html, "text/html")
        elif html:
            # No text: the HTML is the message.
            self.body = html
            self.content_subtype = "html"
        # Rendered once and never again: the context (user and change rows,
        # the code) need not live on with the message, nor be deep-copied
        # with it by the test outbox.
        self.context = {}

    def message(self, *args, **kwargs):
        if django.VERSION < (6, 0):
            return super().message(*args, **kwargs)  # sends text as it is already
        policy = kwargs.pop("policy", email.policy.default)
        msg = super().message(*args, policy=_long_lines_allowed(policy), **kwargs)
        msg.policy = policy
        return msg
