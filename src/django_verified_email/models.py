from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, models, router
from django.db.models import Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .addresses import comparable, same_address

#: An instance of the host's user model, which has ``VerifiedEmailMixin``.
#: Typed loosely: the model is the host's, and its email field too.
VerifiedUser = Any


class VerifiedEmailMixin(models.Model):
    """Abstract mixin for a custom user model.

    Works with whatever field ``EMAIL_FIELD`` names. An address set by any path
    other than this app (admin, shell, ``save()``) clears the verified flag, so
    ``is_email_verified`` is only ever true for an address that proved itself.
    """

    is_email_verified = models.BooleanField(_("email verified"), default=False)
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)
    email_security_counter = models.PositiveIntegerField(
        _("email security counter"),
        default=0,
        editable=False,
        help_text=_(
            "Moves on every address change, revert and refused change. Links and "
            "sessions issued before it moved stop working."
        ),
    )

    #: The counter counts in steps of this size when an event ends sessions:
    #: the session hash reads ``counter // SESSION_STEP`` (the session epoch),
    #: links read the whole counter. So every event kills the links sent
    #: before it, and only some (a revert, a deny, a completion under
    #: ``LOGOUT_OTHER_SESSIONS``) kill sessions, with one field.
    SESSION_STEP = 1024

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # What the user model the mixin is mixed into provides.
        @classmethod
        def get_email_field_name(cls) -> str: ...

    def save(self, *args: Any, **kwargs: Any) -> None:
        field = self.get_email_field_name()
        update_fields = kwargs.get("update_fields")
        # Only a save that writes the address can change it; an address that
        # was neither loaded nor assigned is not written either.
        writes_address = field in self.__dict__ and (
            update_fields is None or field in update_fields
        )
        if (
            writes_address
            and not self._state.adding
            and not getattr(self, "_verified_email_trusted", False)
            and not same_address(self._stored_address(field), self.__dict__[field])
        ):
            from .conf import app_settings

            self.is_email_verified = False
            self.email_verified_at = None
            # A new address by any path: links sent to the old one die, and
            # sessions too where a completed change would end them.
            self.move_email_security_counter(end_sessions=app_settings.LOGOUT_OTHER_SESSIONS)
            if update_fields is not None:
                kwargs["update_fields"] = {
                    *update_fields,
                    "is_email_verified",
                    "email_verified_at",
                    "email_security_counter",
                }
        super().save(*args, **kwargs)
        self._verified_email_trusted = False
        if writes_address:
            self._remember_saved_email()

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Any:
        # Arguments passed through untouched: Django 6.1 added fetch_mode.
        instance = super().from_db(*args, **kwargs)
        instance._remember_saved_email()
        return instance

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        fields = kwargs.get("fields", args[1] if len(args) > 1 else None)
        # A refresh of other fields leaves an unsaved address edit in place.
        if fields is None or self.get_email_field_name() in fields:
            self._remember_saved_email()

    def _remember_saved_email(self):
        field = self.get_email_field_name()
        # A deferred email field is not loaded; leave nothing to compare with.
        if field in self.__dict__:
            self._verified_email_saved_address = self.__dict__[field]

    def _stored_address(self, field):
        if hasattr(self, "_verified_email_saved_address"):
            return self._verified_email_saved_address
        # Loaded with the address deferred, then assigned: ask the database.
        return (
            type(self)
            ._base_manager.using(self._state.db)
            .filter(pk=self.pk)
            .values_list(field, flat=True)
            .first()
        )

    def mark_email_verified(self, when: datetime | None = None) -> None:
        """Mark the current address verified. The flows call this; hosts may too."""
        self.is_email_verified = True
        self.email_verified_at = when or timezone.now()
        self._verified_email_trusted = True

    def move_email_security_counter(self, *, end_sessions: bool) -> None:
        """Move the counter on (not saved): every link sent before dies.

        With ``end_sessions`` it jumps to the next session epoch, so every
        session logged in before also ends (whatever the session backend:
        each stored its hash at login). Never moves back, so a session or a
        link that went stale once never works again, even when the address
        goes back to what it was (A to B to A).
        """
        counter = self.email_security_counter or 0
        if end_sessions:
            self.email_security_counter = (counter // self.SESSION_STEP + 1) * self.SESSION_STEP
        else:
            self.email_security_counter = counter + 1

    def get_session_auth_hash(self) -> str:
        parent = super().get_session_auth_hash()  # type: ignore[misc]
        return self._verified_email_session_hash(parent)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for value in super().get_session_auth_fallback_hash():  # type: ignore[misc]
            yield self._verified_email_session_hash(value)

    def _verified_email_session_hash(self, value):
        # The session epoch is part of the hash every session stores at
        # login: moving it makes all stored hashes stale, so every session
        # ends (the request that made the change may store the new hash and
        # stay in). Epoch 0 leaves Django's hash as it is, so adding the
        # mixin, or upgrading to the counter, logs nobody out.
        epoch = (self.email_security_counter or 0) // self.SESSION_STEP
        if not epoch:
            return value
        return hashlib.sha256(f"{value}\x1f{epoch}".encode()).hexdigest()


class VerifiedEmailQuerySetMixin:
    """Mix into the queryset of the host's user manager: bulk writes keep the rule.

    ``save()`` clears the verified flag of an address nobody proved; a
    queryset's ``update()`` and ``bulk_update()`` skip ``save()``, so without
    this they would leave the flag on a new address. With it, a bulk write of
    the address clears the flag of every row whose address it changes, unless
    the same call sets the flag itself (a deliberate import). Use it as::

        class UserQuerySet(VerifiedEmailQuerySetMixin, models.QuerySet):
            pass

        class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
            ...
    """

    model: Any
    db: Any

    def update(self, **kwargs: Any) -> int:
        field = _email_field_of(self.model)
        if field is not None and field in kwargs and "is_email_verified" not in kwargs:
            # The flags first: MySQL and MariaDB assign left to right, so a
            # flag set after the address would compare the new address with
            # itself and keep the flag (every other database reads the old row).
            kwargs = {**self._verified_email_flags_after(field, kwargs[field]), **kwargs}
        return super().update(**kwargs)  # type: ignore[misc]

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        field = _email_field_of(self.model)
        fields = list(fields)
        if field is not None and field in fields and "is_email_verified" not in fields:
            objs = list(objs)
            stored = self._verified_email_stored_addresses(field, objs)
            for obj in objs:
                saved = getattr(obj, "_verified_email_saved_address", stored.get(obj.pk))
                if saved is None or not same_address(saved, getattr(obj, field)):
                    obj.is_email_verified = False
                    obj.email_verified_at = None
            fields += ["is_email_verified", "email_verified_at"]
        return super().bulk_update(objs, fields, *args, **kwargs)  # type: ignore[misc]

    def _verified_email_stored_addresses(self, field: str, objs: list[Any]) -> dict[Any, Any]:
        """The stored address of each of ``objs`` that does not remember its own.

        An instance loaded with the address deferred, or one of a data
        migration's historical model (which has none of the mixin's methods),
        compares with the database, as ``save()`` does.
        """
        unknown = [
            obj.pk
            for obj in objs
            if obj.pk is not None and not hasattr(obj, "_verified_email_saved_address")
        ]
        if not unknown:
            return {}
        rows = self.model._base_manager.using(self.db).filter(pk__in=unknown)
        return dict(rows.values_list("pk", field))

    @staticmethod
    def _verified_email_flags_after(field: str, value: Any) -> dict[str, Any]:
        """The flag columns for an ``update()`` that writes ``value`` to the address."""
        if not isinstance(value, str):
            # An expression: which rows keep their address is not known here.
            return {"is_email_verified": False, "email_verified_at": None}
        from .addresses import address_q

        # A row whose address is already this one (in any spelling) keeps its flag.
        unchanged = address_q(field, value)
        return {
            "is_email_verified": models.Case(
                models.When(unchanged, then=models.F("is_email_verified")),
                default=models.Value(False),
            ),
            "email_verified_at": models.Case(
                models.When(unchanged, then=models.F("email_verified_at")),
                default=models.Value(None, output_field=models.DateTimeField()),
            ),
        }


def _email_field_of(model: Any) -> str | None:
    """The name of ``model``'s address field, or None where it has no verified flag.

    A data migration's historical model has the fields but none of the
    mixin's or ``AbstractBaseUser``'s methods and class attributes: its
    address field is the one the live user model names, when it is that
    model's history, else ``EMAIL_FIELD`` or ``"email"``; and before the
    migration that adds ``is_email_verified`` there is no flag to clear.
    """
    if issubclass(model, VerifiedEmailMixin):
        return model.get_email_field_name()
    if "is_email_verified" not in {field.name for field in model._meta.get_fields()}:
        return None
    live = get_user_model()
    if model._meta.label_lower == live._meta.label_lower:
        return live.get_email_field_name()
    return getattr(model, "EMAIL_FIELD", "email")


#: The reverse accessor from a user to its ``VerifiedEmailProfile`` (the profile store).
PROFILE = "verified_email_profile"


def keeps_own_state(model: Any) -> bool:
    """Return whether the user model keeps its verified state itself (it has the mixin)."""
    return issubclass(model, VerifiedEmailMixin)


def users_with_state() -> models.QuerySet[Any]:
    """The user model's default manager, loading the verified state with each user.

    A model with the mixin has it in its own row; any other loads its
    ``VerifiedEmailProfile`` in the same statement (a join, none where the
    row is missing), so reading the state costs no query of its own.
    """
    model = get_user_model()
    users = model._default_manager.all()
    return users if keeps_own_state(model) else users.select_related(PROFILE)


def write_database(user: models.Model) -> str:
    """The database ``user``'s rows are locked and written in: the router's for writes.

    A flow's transaction runs there, and every read that follows a lock
    reads there: a replica could miss what another request just committed.
    """
    return router.db_for_write(type(user), instance=user)


def lock_user(pk: Any, *, using: str | None = None) -> VerifiedUser | None:
    """Lock the user row ``pk`` names (a value or a subquery) and return it, or None.

    Every flow that writes a user row locks it first, before any change row,
    so two flows never wait on each other's rows in opposite order. On
    ``using``, or else the database the router writes users to. The
    verified state comes with it (``users_with_state``); the address store
    creates a missing profile row under this lock (``stores``).
    """
    model = get_user_model()
    using = using or router.db_for_write(model)
    if keeps_own_state(model):
        return model._default_manager.using(using).select_for_update().filter(pk=pk).first()
    if not connections[using].features.has_select_for_update:
        # No row locks (SQLite: a writing transaction holds the database):
        # the profile comes with the user, in one read.
        return users_with_state().using(using).filter(pk=pk).first()
    # Both rows locked in one statement, the user's first (the order of
    # every flow): after waiting for a lock, PostgreSQL re-reads the newest
    # version of each locked row, so the profile is never one from before
    # the wait. An outer join can't be locked on its nullable side, hence
    # the inner join: a user with no profile row yet is locked alone, and
    # the store creates the row under that lock. Every write of a profile
    # happens under its user's lock.
    users = model._default_manager.using(using)
    both = users.filter(**{f"{PROFILE}__isnull": False}).select_related(PROFILE)
    if connections[using].features.has_select_for_update_of:
        both = both.select_for_update(of=("self", PROFILE))
    else:
        # MySQL and MariaDB lock every row a locking read joins, newest versions.
        both = both.select_for_update()
    user = both.filter(pk=pk).first()
    if user is None:
        user = users.select_for_update().filter(pk=pk).first()
    return user


class EmailChangeQuerySet(models.QuerySet["EmailChange"]):
    """The queries several flows share."""

    def pending(self) -> EmailChangeQuerySet:
        """Changes still waiting for a link (at most one per user)."""
        return self.filter(status__in=EmailChange.PENDING_STATUSES)

    def pending_for(self, user: models.Model) -> EmailChangeQuerySet:
        """The user's pending change, as a queryset of at most one row."""
        return self.pending().filter(user_id=user.pk)

    def completed_since(self, change: EmailChange) -> EmailChangeQuerySet:
        """The completed, not undone, changes of ``change``'s user from ``change`` on."""
        return self.filter(
            user_id=change.user_id,
            status=EmailChange.Status.COMPLETED,
            pk__gte=change.pk,
            reverted_at__isnull=True,
        )

    def lock_for_taking(self, change_id: int, address_field: str) -> EmailChange | None:
        """Lock a change's user, then every change that could hand out one address.

        For a flow about to give the user the address in ``address_field``
        (``"new_email"`` to complete, ``"old_email"`` to revert). Two accounts
        completing a change to the same address at once would each find it
        free and both take it: their user rows are different locks. So the
        flow also locks every pending change to the address it is about to
        take, in primary-key order, and every completed change away from it
        that a revert could still undo (two accounts that once had the
        address may both hold a revert link to it). The second one waits for
        the first to commit, then finds the address taken. Every flow takes its user row
        first and change rows after it, in one order, so none deadlocks; this
        holds on databases without expression indexes (MariaDB), where the
        host's case-insensitive unique constraint cannot exist.

        Returns None when the change does not exist (or changed hands). The
        change's ``user`` is the locked row.
        """
        if not self._has_row_locks():
            return self._with_user(change_id)
        changes = self.for_write()
        user = changes._lock_owner(change_id)
        if user is None:
            return None
        # The address as a subquery in the lock itself: one statement, whose
        # arms each use an index (``_with_takers``).
        address = Subquery(changes.filter(pk=change_id).values(address_field)[:1])
        rows = changes._with_takers(change_id, address).select_for_update().order_by("pk")
        change = next((row for row in rows if row.pk == change_id), None)
        if change is None or change.user_id != user.pk:
            return None
        change.user = user
        return change

    def for_write(self) -> EmailChangeQuerySet:
        """This queryset on the database it would lock rows in: the router's for writes.

        Every read that follows a lock, or decides a write, reads there: on a
        replica it could miss the row another request just committed. A
        queryset given a database (``using``) stays on it.
        """
        return self.using(self.select_for_update().db)

    def _with_takers(self, change_id: int, address: Subquery) -> EmailChangeQuerySet:
        """The change and the others that could hand out ``address`` (the change's own).

        The others are those pending to it and the completed ones a revert
        could still undo from it. Each arm is served by an index: a partial
        one on the folded address where the database has them (PostgreSQL,
        SQLite: ``Meta.indexes``), else (MariaDB, MySQL) the plain one
        migration 0011 adds on the address, which a case-insensitive
        collation compares as ``LOWER()`` does. A blank address (a change
        from no address, or one the purge blanked) is no address at all: it
        would otherwise lock every blanked row.
        """
        pending = Q(status__in=EmailChange.PENDING_STATUSES)
        undoable = Q(status=EmailChange.Status.COMPLETED, reverted_at__isnull=True)
        if not connections[self.db].features.supports_partial_indexes:
            return self.filter(
                Q(pk=change_id)
                | Q(pending, ~Q(new_email=""), new_email=address)
                | Q(undoable, ~Q(old_email=""), old_email=address)
            )
        # Lower() on both sides, not __iexact: Django 5.2 crashes on SQLite
        # when the right-hand side of __iexact is a subquery.
        return self.alias(
            new_email_folded=Lower("new_email"), old_email_folded=Lower("old_email")
        ).filter(
            Q(pk=change_id)
            | Q(pending, ~Q(new_email=""), new_email_folded=Lower(address))
            | Q(undoable, ~Q(old_email=""), old_email_folded=Lower(address))
        )

    def lock_with_user(self, change_id: int) -> EmailChange | None:
        """Lock a change's user, then the change: for a flow that writes both rows.

        The lock order of ``lock_for_taking``, without the other changes to
        an address. Returns None when the change does not exist (or changed
        hands). The change's ``user`` is the locked row.
        """
        if not self._has_row_locks():
            return self._with_user(change_id)
        changes = self.for_write()
        user = changes._lock_owner(change_id)
        change = changes.select_for_update().filter(pk=change_id).first()
        if change is None or user is None or change.user_id != user.pk:
            return None
        change.user = user
        return change

    def _lock_owner(self, change_id: int) -> VerifiedUser | None:
        # The user's row in the same database as the change's (E011: one
        # transaction holds both), and the change read there too.
        owner = Subquery(self.filter(pk=change_id).values("user_id")[:1])
        return lock_user(owner, using=self.db)

    def _has_row_locks(self) -> bool:
        return bool(connections[self.for_write().db].features.has_select_for_update)

    def _with_user(self, change_id: int) -> EmailChange | None:
        # Without row locks (SQLite, where a writing transaction holds the
        # whole database) the lock statements would only read: one read
        # gives the change and its user (``change_with_user``). A host's
        # manager with a ``get_queryset`` of its own (annotations,
        # select_related) gives the user as the locks do, through it.
        manager = get_user_model()._default_manager
        changes = self.for_write()
        if type(manager).get_queryset is models.Manager.get_queryset:
            return change_with_user(change_id, using=changes.db)
        change = changes.filter(pk=change_id).first()
        if change is None or change.user_id is None:
            return None
        user = lock_user(change.user_id, using=changes.db)
        if user is None:
            return None
        change.user = user
        return change


def change_with_user(change_id: Any, *, using: str | None = None) -> EmailChange | None:
    """The change ``change_id`` with its user, in one read; None if either is not there.

    The user must be one the user model's default manager returns: a host's
    manager or queryset may hide users (soft deletion, the current tenant),
    and a hidden user's changes are not there either.
    """
    # ``user__in`` the manager's queryset: the same rows as an ``Exists()``
    # of it, with less to build (each link read runs this). No ORDER BY:
    # the primary key finds one row at most.
    shown = get_user_model()._default_manager.db_manager(using).all()
    changes = EmailChange.objects.db_manager(using).filter(pk=change_id, user__in=shown)
    return next(iter(with_user_state(changes).order_by()[:1]), None)


def with_user_state(changes: EmailChangeQuerySet) -> EmailChangeQuerySet:
    """``changes`` with each one's user and the user's verified state, in one read."""
    if keeps_own_state(get_user_model()):
        return changes.select_related("user")
    return changes.select_related("user", f"user__{PROFILE}")


class EmailChange(models.Model):
    """One request to change a user's address, from request to its end."""

    class Status(models.TextChoices):
        AWAITING_OLD = "awaiting_old", _("awaiting confirmation from the old address")
        AWAITING_NEW = "awaiting_new", _("awaiting confirmation from the new address")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        SUPERSEDED = "superseded", _("superseded")
        # A recovery (the old mailbox is lost) whose new address proved
        # itself: it completes by itself at ``completes_at`` unless stopped.
        SCHEDULED = "scheduled", _("scheduled")
        DENIED = "denied", _("refused by the old address")

    #: A change in one of these is pending: it is the user's one open change.
    #: (A scheduled change has no step left to confirm, only a time to wait.)
    PENDING_STATUSES = (Status.AWAITING_OLD, Status.AWAITING_NEW, Status.SCHEDULED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="email_changes",
        verbose_name=_("user"),
    )
    old_email = models.EmailField(_("old address"), max_length=254, blank=True)
    new_email = models.EmailField(_("new address"), max_length=254)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    # Bumped whenever a link is (re)sent: only the newest link of a step works.
    link_generation = models.PositiveIntegerField(_("link generation"), default=0)
    link_sent_at = models.DateTimeField(_("last link sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    old_confirmed_at = models.DateTimeField(_("old address confirmed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Set when the old address used its "this wasn't me" link on a completed change.
    reverted_at = models.DateTimeField(_("reverted at"), null=True, blank=True)
    # A revert asked for without a password the account had (flows/revert.py):
    # it waits until ``revert_due_at`` unless the new address keeps the
    # change. Set on the completed change; not an open change. Cleared when
    # the new address keeps it; left set once it completed (``reverted_at``).
    revert_scheduled_at = models.DateTimeField(_("revert scheduled at"), null=True, blank=True)
    revert_due_at = models.DateTimeField(_("revert due at"), null=True, blank=True)
    # Where the request that started the change came from, for the emails
    # that ask "was this me?" (request_context.py); blanked by the purge with
    # the addresses. A null browser means no context was recorded (a change
    # started outside a request), "" one the User-Agent did not name.
    requested_ip = models.GenericIPAddressField(
        _("requested from IP address"), null=True, blank=True
    )
    requested_browser = models.CharField(  # noqa: DJ001
        _("requested with browser"), max_length=64, null=True, blank=True
    )
    requested_os = models.CharField(_("requested on system"), max_length=64, blank=True)
    # Where the request that refused the change came from: the old address's
    # "this wasn't me", a deny while pending (at ``closed_at``) or a revert
    # once completed (at ``reverted_at``). Same rules as requested_*: a null
    # browser means none was recorded; blanked by the purge.
    refused_ip = models.GenericIPAddressField(_("refused from IP address"), null=True, blank=True)
    refused_browser = models.CharField(  # noqa: DJ001
        _("refused with browser"), max_length=64, null=True, blank=True
    )
    refused_os = models.CharField(_("refused on system"), max_length=64, blank=True)
    # Set when the old address's notice (its only way back) could not be
    # handed over; flows.send_owed_notices sends it again and clears it.
    notice_owed_at = models.DateTimeField(_("old address notice owed since"), null=True, blank=True)
    # Access revokers (revokers.py) that failed on a take-back or a
    # completion: their dotted paths, one a line, run again by
    # flows.revoke_owed until they succeed; access_owed_at says since when
    # (null: nothing owed). Text, not JSON: JSONField's system check needs a
    # database connection, and `check` must not.
    access_owed = models.TextField(_("access revokers owed"), blank=True, default="")
    access_owed_at = models.DateTimeField(_("access revocation owed since"), null=True, blank=True)
    # The second-factor device types a take-back had to keep (they record no
    # creation time), by model label, one a line: the owner's notice names them.
    devices_kept = models.TextField(_("device types kept"), blank=True, default="")
    # Recovery (flows/recovery.py): the user said they can no longer open the
    # old address. Only the new address confirms; the old one gets a "stop
    # this change" link, and the change waits RECOVERY_DELAY before it
    # completes, unless the request passed the host's second factor.
    old_email_lost = models.BooleanField(_("old address lost"), default=False)
    second_factor = models.BooleanField(_("passed a second factor"), default=False)
    completes_at = models.DateTimeField(_("completes at"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    # The account as it was when the change was scheduled (tokens.fingerprint):
    # completing re-checks that nothing moved meanwhile.
    account_fingerprint = models.CharField(_("account fingerprint"), max_length=64, blank=True)
    # Why a change closed without completing, when the flow decided it
    # (a recovery cancelled at completion time): "address_taken", "account_changed".
    closed_reason = models.CharField(_("closed because"), max_length=32, blank=True)
    # Completed by staff from the admin: who and why (when is closed_at).
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by staff member"),
    )
    completion_reason = models.TextField(_("reason for completing by staff"), blank=True)
    # The scheme and host the change was requested from (web.link_base, which
    # ALLOWED_HOSTS vetted): the links of emails built outside a request
    # (verified_email_complete_due, a worker) point there when BASE_URL is
    # unset. Blank for a change started outside a request, or before 0011.
    link_base = models.CharField(_("requested on site"), max_length=2048, blank=True)

    objects = EmailChangeQuerySet.as_manager()

    class Meta:
        verbose_name = _("email change")
        verbose_name_plural = _("email changes")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["awaiting_old", "awaiting_new", "scheduled"]),
                name="verified_email_one_open_change_per_user",
            ),
        ]
        indexes = [
            # What verified_email_purge looks up: closed rows by closing time,
            # pending rows by when their link was sent.
            models.Index(fields=["status", "closed_at"], name="verified_em_status_closed_idx"),
            models.Index(fields=["status", "link_sent_at"], name="verified_em_status_sent_idx"),
            # What verified_email_complete_due looks up: scheduled rows that are due.
            models.Index(fields=["status", "completes_at"], name="verified_em_status_due_idx"),
            # What a completion and a revert lock (``lock_for_taking``): the
            # changes that could hand out one address. Partial, so their size
            # is that of the open changes, not of the whole history; MariaDB
            # and MySQL have no partial indexes, and get plain ones on the
            # addresses instead (migration 0013).
            models.Index(
                Lower("new_email"),
                name="verified_em_open_new_idx",
                condition=models.Q(status__in=["awaiting_old", "awaiting_new", "scheduled"]),
            ),
            models.Index(
                Lower("old_email"),
                name="verified_em_undoable_old_idx",
                condition=models.Q(status="completed", reverted_at__isnull=True),
            ),
            # And the scheduled reverts that are due.
            models.Index(fields=["revert_due_at"], name="verified_em_revert_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.old_email or '-'} → {self.new_email} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING_STATUSES

    @property
    def new_email_ascii(self) -> str:
        """The new address in ASCII form, to show beside it when its domain is not ASCII."""
        from .addresses import shown_ascii

        return shown_ascii(self.new_email)

    @property
    def new_email_looks_like_old(self) -> bool:
        """Whether the new address is a look-alike of the old one (warn whoever approves it)."""
        from .addresses import looks_alike

        return looks_alike(self.old_email, self.new_email)

    @property
    def expires_at(self) -> datetime | None:
        """When the newest link of the current step stops working (None if closed)."""
        from .conf import app_settings

        if not self.is_pending or self.status == self.Status.SCHEDULED or self.link_sent_at is None:
            return None
        return self.link_sent_at + timedelta(seconds=app_settings.LINK_MAX_AGE)


class ReauthAttempts(models.Model):
    """A user's password attempts at re-authentication, and their lockout.

    Kept in a table, not in the cache: a row lock makes "reserve an attempt"
    one atomic step on every database, and the window and the lockout end at
    the times stored here, whatever the cache's own expiry does (Django's
    database and file caches count with get-then-set and their default
    timeout). ``throttle`` reads and writes these rows; nothing else does.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )
    count = models.PositiveIntegerField(_("attempts"), default=0)
    # The window of REAUTH_LOCKOUT seconds the count belongs to starts with
    # its first attempt: a fixed window, which no pace of guessing slides.
    window_started_at = models.DateTimeField(_("window started at"))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("re-authentication attempts")
        verbose_name_plural = _("re-authentication attempts")

    def __str__(self):
        return f"{self.user_id}: {self.count}"


class OneTimeCode(models.Model):
    """The live code of one step of one user, as a keyed hash: never the code itself.

    One row per user and purpose (``"verify"``, ``"change_old"``...): sending
    a new code overwrites it, which is what makes the previous one stop
    working. ``flows.codes`` writes and reads it; see there for what the
    hash covers.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    purpose = models.CharField(_("purpose"), max_length=32)
    # The change and link generation the code was sent with (none for verify):
    # a resend, a new request or a used link moves them on, and the code dies.
    # A plain id, not a foreign key: purging old changes must not cost a
    # query per batch for rows that are dead once their change is closed.
    change_pk = models.BigIntegerField(_("email change"), null=True, blank=True)
    link_generation = models.PositiveIntegerField(_("link generation"), default=0)
    # HMAC-SHA256 in hex; blank once the code is used or used up.
    digest = models.CharField(_("keyed hash"), max_length=64, blank=True)
    # The code this one replaced, so typing it says "replaced", not "wrong".
    replaced_digest = models.CharField(
        _("keyed hash of the replaced code"), max_length=64, blank=True
    )
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    failures = models.PositiveSmallIntegerField(_("wrong tries"), default=0)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"], name="verified_email_one_code_per_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} ({self.user_id})"


class WrongCode(models.Model):
    """One wrong code typed by an account: the per-day limit counts these."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    failed_at = models.DateTimeField(_("tried at"), default=timezone.now)

    class Meta:
        verbose_name = _("wrong code")
        verbose_name_plural = _("wrong codes")
        indexes = [
            # The per-day limit counts one account's tries; the purge drops old
            # ones of every account.
            models.Index(fields=["user", "failed_at"], name="verified_em_wrong_code_idx"),
            models.Index(fields=["failed_at"], name="verified_em_wrong_code_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.failed_at}"


class CompleteDueRun(models.Model):
    """When ``complete_due`` last ran to its end: one row, rewritten by every run.

    Kept in the database rather than the cache, so that the admin and the
    ``verified_email.W012`` check can tell a scheduler that never runs from
    one that runs elsewhere (another machine, a worker), whatever the cache.
    """

    #: The primary key of the one row.
    ONLY = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONLY)
    finished_at = models.DateTimeField(_("last run finished at"))

    class Meta:
        verbose_name = _("scheduler run")
        verbose_name_plural = _("scheduler runs")

    def __str__(self) -> str:
        return f"complete_due at {self.finished_at}"


class PasswordHash(models.Model):
    """A password hash an account had, and until when: the revert's proof of ownership.

    A revert with a password the account had from ``RECOVERY_DELAY`` before
    the change was requested until it completed is immediate
    (``passwords.py``): a taker who changed the password before asking can't
    force the owner onto the slow path. Written on every real password change
    (the hash it replaced) and when a change is requested (the hash then);
    ``verified_email_purge`` deletes the rows no revert can need.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    password = models.CharField(_("password hash"), max_length=128)
    # When it became the password, if known (the time the previous one was replaced).
    current_from = models.DateTimeField(_("current from"), null=True, blank=True)
    # The last time it was known to be the password.
    current_until = models.DateTimeField(_("current until"))

    class Meta:
        verbose_name = _("earlier password")
        verbose_name_plural = _("earlier passwords")
        indexes = [
            models.Index(fields=["user", "current_until"], name="verified_em_pw_user_until_idx"),
            models.Index(fields=["current_until"], name="verified_em_pw_until_idx"),
        ]

    def __str__(self) -> str:
        return f"password of {self.user_id} until {self.current_until}"


class VerifiedEmailProfile(models.Model):
    """The verified state of a user whose model has no ``VerifiedEmailMixin`` (the profile store).

    One row per user, created on first use (``stores.profile``) or by
    ``verified_email_sync_profiles``. ``verified_address`` is the address the
    user proved, in its compared form (``addresses.comparable``), or null: the
    user is verified while it is the user's address. Its unique index is what
    answers "is this address taken?" without reading the user table, whose
    address column (``auth.User.email``) may have no index a host can add.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name=PROFILE,
        verbose_name=_("user"),
    )
    verified_address = models.CharField(
        _("verified address"), max_length=320, null=True, blank=True, unique=True
    )
    verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)
    security_counter = models.PositiveIntegerField(
        _("email security counter"),
        default=0,
        help_text=_(
            "Moves on every address change, revert and refused change. Links and "
            "sessions issued before it moved stop working."
        ),
    )

    class Meta:
        verbose_name = _("verified email state")
        verbose_name_plural = _("verified email states")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.verified_address or '-'}"


class AddressLock(models.Model):
    """A row to lock while an address becomes verified: one per compared address.

    Every step that makes an address verified (a verification, a change's
    completion, a revert, ``mark_email_verified``) locks the row of that
    address (``lock_address``) before it asks "is it taken?", so two accounts
    can't both prove one address: without a unique rule the database could
    enforce (MariaDB has no expression index; a host may have no rule at
    all), two such steps for two accounts would each find the other's
    uncommitted claim invisible and both commit. Rows name no account: the
    key is a SHA-256 of the compared address, not the address (though a hash
    of a known address can be matched to it). A lock lasts only as long as
    the transaction that took it, so ``verified_email_purge`` deletes rows
    last locked a day ago; the next lock makes the row again.
    """

    key = models.CharField(_("address hash"), max_length=64, primary_key=True)
    # Written by every lock: the upsert that takes the lock must update something.
    locked_at = models.DateTimeField(_("last locked at"), null=True)

    class Meta:
        verbose_name = _("address lock")
        verbose_name_plural = _("address locks")

    def __str__(self) -> str:
        return self.key


def address_lock_key(address: str) -> str:
    """The ``AddressLock`` key of ``address``: a hash of its compared form."""
    return hashlib.sha256(comparable(address).encode()).hexdigest()


def lock_address(address: str, *, using: str) -> None:
    """Lock the ``AddressLock`` row of ``address`` until the transaction ends.

    Take it last, after every user and change row the step locks (the
    holders ``claim_address`` releases too): a verification holds its
    user's row while it waits here, so a completion that waited here first
    and then locked that user would deadlock with it. On ``using``, the
    database of the locked user (``user._state.db``).

    One statement, whether the row exists or not: an insert that, on the
    key's conflict, updates the row instead (``bulk_create`` with
    ``update_conflicts``), which locks it on every database, waiting for a
    step that holds it; a racing first insert of the same key waits too,
    then updates. (A locking read, then an insert, cost three statements
    for a new address, and on MariaDB an ignored duplicate takes a shared
    lock that two steps can't both upgrade.)
    """
    lock_addresses([address], using=using)


def lock_addresses(found: list[str], *, using: str) -> None:
    """Lock the ``AddressLock`` rows of every address of ``found``, in key order.

    For the adoption command's batches, which hold many user rows and then
    many addresses: in one order, two runs never wait on each other's
    addresses the other way round, and a flow holds at most one. Each key
    once: PostgreSQL refuses an upsert that touches one row twice.
    """
    now = timezone.now()
    keys = sorted({address_lock_key(address) for address in found})
    unique = {}
    if connections[using].features.supports_update_conflicts_with_target:
        unique["unique_fields"] = ["key"]
    AddressLock.objects.using(using).bulk_create(
        [AddressLock(key=key, locked_at=now) for key in keys],
        update_conflicts=True,
        update_fields=["locked_at"],
        **unique,
    )
