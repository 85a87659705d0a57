"""Which index of the user model can serve the "address taken?" lookup.

Every flow asks whether another account has an address. On a large user
table that is only fast when the database can answer it from an index, and
an expression index serves only a query that repeats its expression: an
index on ``LOWER(email)`` does nothing for ``UPPER(email) = UPPER(...)``,
which is what ``__iexact`` compiles to on PostgreSQL. So the lookup reads
the user model's ``Meta.constraints`` and ``Meta.indexes`` and compares with
the expression the host declared (``addresses.users_with_address``).
"""

from dataclasses import dataclass
from functools import cache

from django.db.models import F, Index, Q, UniqueConstraint
from django.db.models.functions import Lower, Upper

FOLDS = (Lower, Upper)


@dataclass(frozen=True)
class EmailIndex:
    name: str
    field: str
    fold: type  # Lower or Upper, as declared
    condition: Q | None
    unique: bool


def fold_of(expressions, field_name):
    """``Lower`` or ``Upper`` if ``expressions`` is that function of the field alone."""
    if len(expressions) != 1:
        return None
    [expression] = expressions
    if not isinstance(expression, FOLDS):
        return None
    sources = expression.get_source_expressions()
    if len(sources) == 1 and isinstance(sources[0], F) and sources[0].name == field_name:  # type: ignore[attr-defined]
        return type(expression)
    return None


def _leaves_out_only_blank_addresses(condition, field_name):
    """Whether a partial index's condition keeps every row that has an address.

    The lookup repeats the condition so the index serves it, and must not
    lose a row by doing so: ``~Q(email="")`` or ``Q(email__isnull=False)``
    qualify (a blank address is never looked up); a condition on anything
    else (``is_active``, a domain) would hide accounts that hold an address.
    """
    if isinstance(condition, tuple):
        return condition == (f"{field_name}__isnull", False)
    if not isinstance(condition, Q):
        return False
    if not condition.negated:
        return condition.connector == Q.AND and all(
            _leaves_out_only_blank_addresses(child, field_name) for child in condition.children
        )
    if len(condition.children) != 1 or not isinstance(condition.children[0], tuple):
        return False
    lookup, value = condition.children[0]
    if lookup in (field_name, f"{field_name}__exact"):
        return isinstance(value, str | type(None)) and not value
    return lookup == f"{field_name}__isnull" and value is True


@cache
def email_index(user_model):
    """The index the lookup can use: a ``Lower``/``Upper`` of the email field.

    Unique constraints come first: their function is the one that refuses a
    write, so comparing with it keeps the lookup and the constraint of one
    mind. ``None`` when no constraint or index qualifies.
    """
    field_name = user_model.get_email_field_name()
    candidates = [
        (rule, isinstance(rule, UniqueConstraint))
        for rule in [*user_model._meta.constraints, *user_model._meta.indexes]
        if isinstance(rule, UniqueConstraint | Index)
    ]
    for rule, unique in candidates:
        fold = fold_of(rule.expressions, field_name)
        condition = rule.condition
        if fold is None or (
            condition is not None and not _leaves_out_only_blank_addresses(condition, field_name)
        ):
            continue
        return EmailIndex(rule.name, field_name, fold, condition, unique)
    return None
