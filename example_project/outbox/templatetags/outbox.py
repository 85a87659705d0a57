from django import template

from ..rendering import linkify

register = template.Library()

register.filter("linkify", linkify)
