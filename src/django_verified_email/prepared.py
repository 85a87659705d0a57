"""Statements whose SQL the ORM builds once per database, then runs with new values.

The statements every flow runs ("does another account hold this address?",
"is this account locked?", a change and its user) cost the ORM far more to
build than the database to run: about 0.6 ms against 0.06 ms for the
"taken?" lookup on SQLite, and a change reads it three times. A ``Read``
(``values_list()``), an ``Update`` (``update()``) or a ``Delete`` (the fast
path of ``delete()``) asks the ORM for its SQL the first time it runs on a
database, with stand-in values where the call's values go, finds each
stand-in among the statement's parameters, and from then on runs that SQL
with the call's values, adapted for the database by the same field method
the ORM adapts them with. A read's rows go through the same converters as a
``values_list()``.

The SQL is the ORM's own, so it follows the database, the host's user model
and its index (``indexes``). What shapes it is part of the key: the
database alias, the model, the number of values and what the caller adds.
When the SQL cannot be reused (the model's default manager is not Django's
plain one and may filter by what it reads at run time, a stand-in is not
found exactly once among the parameters, the ORM answers without asking the
database, a value is None or out of its field's range), the statement goes
through the ORM: slower, never different.
"""

from __future__ import annotations

import abc
import datetime
import uuid
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.core.signals import setting_changed
from django.db import connections, models, router
from django.db.models.deletion import Collector
from django.db.models.sql import subqueries as sql_query
from django.db.transaction import TransactionManagementError
from django.dispatch import receiver

_STATEMENTS: weakref.WeakSet[_Statement] = weakref.WeakSet()

#: Stored for a key whose SQL cannot be reused: the ORM runs every call.
_NOT_REUSABLE = object()

_INTEGERS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_STRINGS = {"CharField", "EmailField", "TextField", "SlugField"}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    #: (position among the parameters, index of the call's value)
    slots: tuple[tuple[int, int], ...]
    #: The selected columns, whose converters a row goes through.
    columns: tuple[Any, ...]
    #: (column index, converters, column) for the columns that have any: the
    #: backend's and the field's, as the compiler finds them for this database.
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...] = ()
    #: A SELECT ... FOR UPDATE: refused outside a transaction, as the ORM does.
    locks: bool = False


class _Statement(abc.ABC):
    """A statement of the ORM's, built once per database and shape, run with new values."""

    def __init__(
        self,
        model: Callable[[], type[models.Model]],
        build: Callable[..., Any],
        *,
        for_write: bool = False,
    ):
        self._model = model
        self._build = build
        #: Routed as a write: a read that locks (``select_for_update()``).
        self._for_write = for_write
        self._compiled: dict[Hashable, Any] = {}
        _STATEMENTS.add(self)

    @abc.abstractmethod
    def _alias(self, model: type[models.Model]) -> str:
        """The database it runs on."""

    @abc.abstractmethod
    def _sql(self, built: Any, alias: str) -> tuple[Any, str, Sequence[Any]]:
        """The compiler and SQL of what ``build`` returned, on ``alias``."""

    @abc.abstractmethod
    def _through_orm(self, alias: str, values: Sequence[Any]) -> Any:
        """Run it through the ORM, as written."""

    @abc.abstractmethod
    def _fetch(self, cursor: Any, compiled: _Compiled, connection: Any) -> Any:
        """Its result, from the cursor that ran it."""

    def _run(self, values: Sequence[Any], fields: Sequence[Any], key: Hashable) -> tuple[str, Any]:
        model = self._model()
        alias = self._alias(model)
        connection = connections[alias]
        full_key = (alias, model, len(values), key)
        compiled = self._compiled.get(full_key)
        if compiled is None:
            compiled = self._compile(model, alias, fields, len(values))
            self._compiled[full_key] = compiled
        if (
            compiled is _NOT_REUSABLE
            or not plain_manager(model)
            # None and expressions change the SQL itself (IS NULL, a column).
            or any(value is None or hasattr(value, "resolve_expression") for value in values)
            or not _in_range(values, fields, connection)
        ):
            return alias, self._through_orm(alias, values)
        if (
            compiled.locks
            and connection.features.has_select_for_update
            and connection.features.supports_transactions
            and connection.get_autocommit()
        ):
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(compiled.params)
        for position, index in compiled.slots:
            params[position] = fields[index].get_db_prep_value(
                values[index], connection, prepared=False
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return alias, self._fetch(cursor, compiled, connection)

    def _compile(
        self,
        model: type[models.Model],
        alias: str,
        fields: Sequence[Any],
        count: int,
    ) -> Any:
        connection = connections[alias]
        stand_ins = [_stand_in(field, index) for index, field in enumerate(fields[:count])]
        if len(stand_ins) != count or any(value is None for value in stand_ins):
            return _NOT_REUSABLE
        try:
            compiler, sql, params = self._sql(self._build(*stand_ins), alias)
        except (EmptyResultSet, FullResultSet):
            return _NOT_REUSABLE
        if compiler.query.model is not model:
            return _NOT_REUSABLE
        slots = []
        for index, (field, stand_in) in enumerate(zip(fields, stand_ins, strict=True)):
            adapted = field.get_db_prep_value(stand_in, connection, prepared=False)
            found = [
                position
                for position, param in enumerate(params)
                if type(param) is type(adapted) and param == adapted
            ]
            if len(found) != 1:
                return _NOT_REUSABLE
            slots.append((found[0], index))
        columns = tuple(
            column
            for column, _sql, _alias in (compiler.select or [])[: getattr(compiler, "col_count", 0)]
        )
        converters = tuple(
            (index, tuple(converts), column)
            for index, column in enumerate(columns)
            if (
                converts := connection.ops.get_db_converters(column)
                + column.get_db_converters(connection)
            )
        )
        locks = bool(getattr(compiler.query, "select_for_update", False))
        return _Compiled(sql, tuple(params), tuple(slots), columns, converters, locks)

    def clear(self) -> None:
        self._compiled.clear()


class Read(_Statement):
    """A ``values_list()`` read whose SQL is built once per database and shape.

    ``build(*values)`` returns the read's queryset of ``model()``;
    ``rows(*values, fields=...)`` runs it, each value adapted as its field
    adapts it (a ``CharField()`` for a value compared through an expression).
    """

    def rows(
        self, *values: Any, fields: Sequence[Any], key: Hashable = ()
    ) -> list[tuple[Any, ...]]:
        return self.rows_from(*values, fields=fields, key=key)[1]

    def rows_from(
        self, *values: Any, fields: Sequence[Any], key: Hashable = ()
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """``rows``, with the alias of the database they were read from."""
        return self._run(values, fields, key)

    def _alias(self, model: type[models.Model]) -> str:
        if self._for_write:
            return router.db_for_write(model)
        return router.db_for_read(model)

    def _sql(self, built: Any, alias: str) -> tuple[Any, str, Sequence[Any]]:
        compiler = built.using(alias).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        return compiler, sql, params

    def _through_orm(self, alias: str, values: Sequence[Any]) -> Any:
        return list(self._build(*values).using(alias))

    def _fetch(self, cursor: Any, compiled: _Compiled, connection: Any) -> Any:
        rows = cursor.fetchall()
        width = len(compiled.columns)
        converted = []
        for row in rows:
            row = list(row[:width])
            for index, converts, column in compiled.converters:
                for convert in converts:
                    row[index] = convert(row[index], column, connection)
            converted.append(tuple(row))
        return converted


class Update(_Statement):
    """A queryset's ``update()`` whose SQL is built once per database and shape.

    ``build(*values)`` returns ``(queryset, changes)``: what ``update(**changes)``
    is called on. ``execute(*values, fields=...)`` runs it and returns the
    number of rows it matched. Like ``update()``, it sends no signal.
    """

    def execute(self, *values: Any, fields: Sequence[Any], key: Hashable = ()) -> int:
        return int(self._run(values, fields, key)[1])

    def _alias(self, model: type[models.Model]) -> str:
        return router.db_for_write(model)

    def _sql(self, built: Any, alias: str) -> tuple[Any, str, Sequence[Any]]:
        queryset, changes = built
        if queryset.query.annotations or queryset.query.order_by:
            raise EmptyResultSet  # update() rewrites those: left to it
        # What QuerySet.update() compiles, without running it.
        query = queryset.using(alias).query.chain(sql_query.UpdateQuery)
        query.add_update_values(changes)
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if query.related_updates or not sql:
            # Fields of a parent model: more than one statement.
            raise EmptyResultSet
        return compiler, sql, params

    def _through_orm(self, alias: str, values: Sequence[Any]) -> Any:
        queryset, changes = self._build(*values)
        return queryset.using(alias).update(**changes)

    def _fetch(self, cursor: Any, compiled: _Compiled, connection: Any) -> Any:
        return cursor.rowcount


class Delete(_Statement):
    """A queryset's ``delete()`` whose SQL is built once per database and shape.

    Only when ``delete()`` itself would send one ``DELETE``: nobody listens
    for the model's deletions and no row of another model points at it
    (Django's "fast delete"). Otherwise ``delete()`` runs, signals, cascades
    and all. ``execute(*values, fields=...)`` returns the number of rows
    deleted.
    """

    def execute(self, *values: Any, fields: Sequence[Any], key: Hashable = ()) -> int:
        model = self._model()
        alias = self._alias(model)
        rows = model._default_manager.none()
        if not Collector(using=alias, origin=rows).can_fast_delete(rows):
            return self._through_orm(alias, values)
        return int(self._run(values, fields, key)[1])

    def _alias(self, model: type[models.Model]) -> str:
        return router.db_for_write(model)

    def _sql(self, built: Any, alias: str) -> tuple[Any, str, Sequence[Any]]:
        if built.query.annotations or built.query.order_by or built.query.is_sliced:
            raise EmptyResultSet  # left to delete()
        # What the fast path of QuerySet.delete() compiles, without running it.
        query = built.using(alias).query.clone()
        query.__class__ = sql_query.DeleteQuery
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        return compiler, sql, params

    def _through_orm(self, alias: str, values: Sequence[Any]) -> Any:
        return self._build(*values).using(alias).delete()[0]

    def _fetch(self, cursor: Any, compiled: _Compiled, connection: Any) -> Any:
        return cursor.rowcount


def plain_manager(model: type[models.Model]) -> bool:
    """Whether ``model``'s default manager is Django's plain one, on no database of its own.

    Asked on every run, not once: a manager of the host's may filter by what
    it reads at run time (a tenant, a request), and SQL built once would keep
    the first. One tied to a database (``db_manager()``) reads from that one.
    """
    manager = model._default_manager
    return type(manager).get_queryset is models.Manager.get_queryset and manager._db is None


def _in_range(values: Sequence[Any], fields: Sequence[Any], connection: Any) -> bool:
    """Whether each integer value is in its field's range (out of it, the ORM reads nothing).

    A value the field cannot take at all (``"abc"`` for an id) is left to the
    ORM too, which raises what it raises.
    """
    for value, field in zip(values, fields, strict=False):
        target = getattr(field, "target_field", field)
        internal = target.get_internal_type()
        if internal not in _INTEGERS:
            continue
        try:
            number = target.get_prep_value(value)
        except (TypeError, ValueError):
            return False
        low, high = connection.ops.integer_field_range(internal)
        if (low is not None and number < low) or (high is not None and number > high):
            return False
    return True


def _stand_in(field: models.Field[Any, Any], index: int) -> Any:
    """A value of ``field``'s kind that no read puts in its SQL by itself."""
    # A foreign key is adapted as the field it points to.
    internal = getattr(field, "target_field", field).get_internal_type()
    if internal in _INTEGERS:
        # In every integer field's range: out of it, a lookup matches nothing.
        return 30_011 + index
    if internal in _STRINGS:
        # With the characters a lookup rewrites (LIKE's escapes, letter
        # case): a value that goes into the SQL rewritten is then not found
        # as it was given, and that read is left to the ORM.
        return f"\ue000Stand-in {index} %_\\\ue000"
    if internal == "UUIDField":
        return uuid.UUID(int=0xE000 + index)
    if internal == "DateTimeField":
        moment = datetime.datetime(2001, 2, 3, 4, 5, 6, 700_000 + index)
        return moment.replace(tzinfo=datetime.timezone.utc) if settings.USE_TZ else moment
    return None


def clear() -> None:
    """Forget every compiled read (they are compiled again when next run)."""
    for read in list(_STATEMENTS):
        read.clear()


#: The settings that shape a read's SQL or the values it is run with.
_SHAPING_SETTINGS = frozenset(
    {"DATABASES", "DATABASE_ROUTERS", "AUTH_USER_MODEL", "INSTALLED_APPS", "USE_TZ", "TIME_ZONE"}
)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _SHAPING_SETTINGS:
        clear()
