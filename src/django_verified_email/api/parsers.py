"""The one body format the API reads: a small JSON object."""

import codecs
import json

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The largest valid body (a 1 kB token, or an address and a password) is a few
# kilobytes. Reading no more than this keeps anonymous confirm requests from
# making the server parse megabytes.
MAX_BODY_SIZE = 64 * 1024


class SmallJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        raw = stream.read(MAX_BODY_SIZE + 1)
        if len(raw) > MAX_BODY_SIZE:
            raise ParseError(_("The request body is too large."))
        try:
            text = codecs.decode(raw, parser_context.get("encoding") or "utf-8")
            return json.loads(text, parse_constant=json_constant)
        # Deeply nested arrays exhaust the parser's recursion: malformed too.
        except (ValueError, LookupError, RecursionError):
            raise ParseError(_("The request body is not valid JSON.")) from None


def json_constant(name):
    # NaN and Infinity are not JSON.
    raise ValueError(name)
