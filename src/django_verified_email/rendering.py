"""A templated email that renders ``{% extends %}`` templates correctly.

django-templated-mail 1.1.1 only reads the ``subject``, ``text_body`` and
``html_body`` blocks that sit at the top level of the template it loads, so a
template that extends a base (the normal way to override a design) renders an
empty subject and body. Here each block is resolved through the whole
``{% extends %}`` chain, as Django itself does, so overrides and
``{{ block.super }}`` work.
"""

import email.contentmanager
import email.message
from typing import Any

from django.core import mail
from django.template.base import TextNode
from django.template.context import make_context
from django.template.loader import get_template
from django.template.loader_tags import BLOCK_CONTEXT_KEY, BlockContext, BlockNode, ExtendsNode
from templated_mail.mail import BaseEmailMessage

HTML_BLOCKS = {"html_body"}

#: RFC 5322's limit on a line of a message, in bytes, without its CRLF.
MAX_LINE_BYTES = 998


def _unencoded(msg: Any) -> Any:
    """Send the message's text parts as they are (7bit or 8bit) when their lines allow it.

    Django 6.0 builds messages with ``email.policy``, which quoted-printable
    encodes any text with a line longer than 78 characters: every link of
    ours is one, so a printed message (the console backend, a mail log) shows
    each link cut by ``=`` soft breaks, and the ``=`` in a token as ``=3D``.
    Django 5.2 sent such a body as it is, up to the 998-byte line limit; so
    does this. ``msg`` is left as it is when it is no ``email.message.EmailMessage``
    (Django 5.2's own classes already do this).
    """
    if not isinstance(msg, email.message.EmailMessage):
        return msg
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        if part["Content-Transfer-Encoding"] not in ("quoted-printable", "base64"):
            continue
        text = part.get_content()
        try:
            text.encode("ascii")
        except UnicodeEncodeError:
            if msg.policy.cte_type != "8bit":
                continue  # the policy asks for 7bit data: leave the encoding
            cte = "8bit"
        else:
            cte = "7bit"
        if any(len(line.encode()) > MAX_LINE_BYTES for line in text.splitlines()):
            continue
        # The content manager, not part.set_content(): that would add a
        # MIME-Version header to the part.
        email.contentmanager.raw_data_manager.set_content(
            part,
            text,
            subtype=part.get_content_subtype(),
            charset=part.get_content_charset() or "utf-8",
            cte=cte,
        )
    return msg


def _extends_node(template):
    for node in template.nodelist:
        if isinstance(node, ExtendsNode):
            return node
        if not isinstance(node, TextNode):
            return None
    return None


def render_blocks(template_name, context, names):
    """Render the named blocks of a template, following its ``{% extends %}`` chain."""
    template = get_template(template_name).template
    context = make_context(context)
    rendered = {}
    with context.bind_template(template), context.render_context.push_state(template):
        block_context = BlockContext()
        current = template
        while True:
            # Child blocks first: add_blocks() puts each parent beneath them.
            block_context.add_blocks(
                {node.name: node for node in current.nodelist.get_nodes_by_type(BlockNode)}
            )
            extends = _extends_node(current)
            if extends is None:
                break
            current = extends.get_parent(context)
        context.render_context[BLOCK_CONTEXT_KEY] = block_context
        for name in names:
            # Only the HTML body is HTML: escaping an address with an
            # apostrophe in a subject or plain-text body would garble it.
            context.autoescape = name in HTML_BLOCKS
            # The root-most node of a name; rendering it renders the most
            # specific override, with block.super reaching up the chain.
            node = block_context.blocks.get(name, [None])[0]
            rendered[name] = node.render(context).strip() if node is not None else ""
    return rendered


class TemplatedEmail(BaseEmailMessage):
    """``templated_mail``'s message with rendering that honours ``{% extends %}``."""

    #: Whom the message was built for (``emails.build`` sets it).
    user: Any = None

    def render(self):
        blocks = render_blocks(self.template_name, self.get_context_data(), self._node_map)
        for block_name, attribute in self._node_map.items():
            setattr(self, attribute, blocks[block_name])
        # A subject is a single header line: never let a template break it.
        self.subject = " ".join(self.subject.split())
        self._attach_body()
        # Rendered once and never again (``send``): the context (user and
        # change rows, the code) need not live on with the message, nor be
        # deep-copied with it by the test outbox.
        self.context = {}

    def message(self, *args, **kwargs):
        return _unencoded(super().message(*args, **kwargs))

    def send(self, fail_silently=False):
        # templated_mail's send() re-renders and takes recipients as arguments;
        # messages here are rendered once, with their recipients set.
        return mail.EmailMultiAlternatives.send(self, fail_silently)
