"""Which index of the user model can serve the "address taken?" lookup.

Every flow asks whether another account has an address. On a large user
table that is only fast when the database can answer it from an index, and
an expression index serves only a query that repeats its expression: an
index on ``LOWER(email)`` does nothing for ``UPPER(email) = UPPER(...)``,
which is what ``__iexact`` compiles to on PostgreSQL. So the lookup reads
the user model's ``Meta.constraints`` and ``Meta.indexes`` and compares with
the expression the host declared (``addresses.users_with_address``).

MariaDB has neither expression nor partial indexes (MySQL has no partial
ones), and Django skips such a rule there (with a warning, not an error).
The recipe for them is a stored generated column holding the folded
address, with a plain unique index on that column; the lookup then compares
that column. Which rules count depends on the database the user model is
routed to (``capabilities``).
"""

from dataclasses import dataclass
from functools import cache

from django.db import connections, router
from django.db.models import F, GeneratedField, Index, Q, UniqueConstraint, Value
from django.db.models.functions import Lower, NullIf, Upper

FOLDS = (Lower, Upper)


@dataclass(frozen=True)
class Capabilities:
    """What the database the user model is written to can build."""

    vendor: str  # connection.vendor: "postgresql", "sqlite", "mysql" (MariaDB too) …
    expression_indexes: bool
    partial_indexes: bool


def capabilities(user_model) -> Capabilities:
    """The ``Capabilities`` of the database the router writes ``user_model`` to."""
    connection = connections[router.db_for_write(user_model)]
    features = connection.features
    return Capabilities(
        connection.vendor,
        bool(features.supports_expression_indexes),
        bool(features.supports_partial_indexes),
    )


@dataclass(frozen=True)
class EmailIndex:
    name: str
    field: str  # the email field
    fold: type  # Lower or Upper, as declared
    condition: Q | None
    unique: bool
    # The generated field that holds the folded address, when the index is
    # on it (the MariaDB and MySQL recipe): the lookup compares that column.
    generated: str | None = None


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


def generated_fold(field, field_name):
    """``Lower`` or ``Upper`` if ``field`` is a stored column of the folded address.

    ``NullIf(Lower(field), Value(""))`` qualifies too: a blank address
    becomes NULL, which a unique index lets repeat (MariaDB and MySQL have
    no partial index to leave it out otherwise).
    """
    # getattr: the stubs do not declare GeneratedField's attributes.
    if not isinstance(field, GeneratedField) or not getattr(field, "db_persist", False):
        return None
    expression = getattr(field, "expression", None)
    if isinstance(expression, NullIf):
        folded, blank = expression.get_source_expressions()
        if not (isinstance(blank, Value) and blank.value == ""):
            return None
        expression = folded
    return fold_of([expression], field_name)


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


def email_index(user_model):
    """The index the lookup can use: one on a ``Lower``/``Upper`` of the email field.

    Either an expression index (a constraint's or an index's), or a plain
    index on a generated column of the folded address (``generated_fold``);
    only what the user model's database can build (``capabilities``).
    Unique constraints come first: their function is the one that refuses a
    write, so comparing with it keeps the lookup and the constraint of one
    mind. ``None`` when no constraint or index qualifies.
    """
    return _email_index(user_model, capabilities(user_model))


def email_unique_rule(user_model):
    """The case-insensitive unique rule on the email field the database builds, or None.

    What ``verified_email.W002`` asks for: any ``email_index`` that is
    unique, or a unique ``Lower``/``Upper`` constraint with another
    condition (it refuses a duplicate, though the lookup cannot use it).
    """
    found = email_index(user_model)
    if found is not None and found.unique:
        return found.name
    database = capabilities(user_model)
    field_name = user_model.get_email_field_name()
    for rule in user_model._meta.constraints:
        if (
            isinstance(rule, UniqueConstraint)
            and fold_of(rule.expressions, field_name) is not None
            and _buildable(rule, database)
        ):
            return rule.name
    return None


def _buildable(rule, database):
    """Whether Django creates ``rule`` on the database (it skips it, with a warning, otherwise)."""
    return (database.expression_indexes or not rule.expressions) and (
        database.partial_indexes or rule.condition is None
    )


def _generated_folds(user_model, field_name):
    """The generated fields of the folded address: ``{name: fold}``."""
    found = {}
    for field in user_model._meta.local_concrete_fields:
        fold = generated_fold(field, field_name)
        if fold is not None:
            found[field.name] = fold
    return found


def _candidates(user_model, field_name, database):
    """``(name, fold, condition, unique, generated)`` of each index that folds the address."""
    generated = _generated_folds(user_model, field_name)
    for rule in [*user_model._meta.constraints, *user_model._meta.indexes]:
        if not isinstance(rule, UniqueConstraint | Index) or not _buildable(rule, database):
            continue
        unique = isinstance(rule, UniqueConstraint)
        fold = fold_of(rule.expressions, field_name)
        if fold is not None:
            yield rule.name, fold, rule.condition, unique, None
        elif len(rule.fields) == 1 and rule.fields[0] in generated:
            [name] = rule.fields
            yield rule.name, generated[name], rule.condition, unique, name
    for name, fold in generated.items():
        field = user_model._meta.get_field(name)
        if field.unique or field.db_index:
            yield field.column, fold, None, field.unique, name


@cache
def _email_index(user_model, database):
    field_name = user_model.get_email_field_name()
    found = [
        EmailIndex(name, field_name, fold, condition, unique, generated)
        for name, fold, condition, unique, generated in _candidates(
            user_model, field_name, database
        )
        if condition is None
        or _leaves_out_only_blank_addresses(condition, field_name)
        or (generated is not None and _leaves_out_only_blank_addresses(condition, generated))
    ]
    # Unique first; sorted() keeps the declared order among equals.
    found.sort(key=lambda index: not index.unique)
    return found[0] if found else None
