"""What the app holds about one person, for access requests (docs/privacy.md).

``export_user_data`` is public: hosts call it from their own "download my
data" page, or run ``manage.py verified_email_export <pk>``.

The one-time code rows (``OneTimeCode``, ``WrongCode``) are left out on
purpose: a keyed hash of a code that dies within ``CODE_MAX_AGE``, and the
times of wrong tries kept for a day, say nothing about the person.
docs/privacy.md lists them, with how long they stay.
"""

from .models import EmailChange
from .stores import get_store

#: Version of the export's shape; bumped when a key changes meaning or goes.
EXPORT_VERSION = 1

#: The ``EmailChange`` fields an export shows. Every field of the model is
#: either here or in ``NOT_EXPORTED`` (a test holds that), so a field added
#: later is a decision, not an oversight.
EXPORTED_CHANGE_FIELDS = (
    "id",
    "old_email",
    "new_email",
    "status",
    "created_at",
    "link_sent_at",
    "old_confirmed_at",
    "closed_at",
    "reverted_at",
    # A revert asked for without a password waits (flows/revert.py).
    "revert_scheduled_at",
    "revert_due_at",
    # Where the request that started the change came from (request_context.py).
    "requested_ip",
    "requested_browser",
    "requested_os",
    # And the one that refused it, a deny or a revert ("this wasn't me").
    "refused_ip",
    "refused_browser",
    "refused_os",
    # Recovery (flows/recovery.py): the lost-mailbox path, its wait, and a
    # completion by staff with its written reason.
    "old_email_lost",
    "second_factor",
    "completes_at",
    "reminder_sent_at",
    "closed_reason",
    "completion_reason",
)
#: ``user`` is the person the export is for; ``link_generation`` is a counter
#: that only says which link of a step is the newest; ``notice_owed_at`` is
#: delivery bookkeeping, cleared once the notice went out;
#: ``account_fingerprint`` is a digest a recovery compares the account with
#: (it says nothing readable, and is blanked by the purge with the addresses);
#: ``completed_by`` is a staff account's key, not the person's data (the
#: reason staff wrote is exported); ``access_owed``, ``access_owed_at`` and
#: ``devices_kept`` are take-back bookkeeping (the code paths of revokers
#: still owed, the model labels of device types the owner was told of);
#: ``link_base`` is the site's own address the change was asked on, where its
#: emails' links lead.
NOT_EXPORTED = (
    "user",
    "link_generation",
    "notice_owed_at",
    "account_fingerprint",
    "completed_by",
    "access_owed",
    "access_owed_at",
    "devices_kept",
    "link_base",
)


def _value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_user_data(user):
    """Return, as a JSON-ready dict, everything this app stores about ``user``.

    That is the user's address and its verified flag and time (the fields of
    ``VerifiedEmailMixin``), and every ``EmailChange`` row of the user, oldest
    first, with its addresses and times. Times are ISO 8601 strings in UTC;
    the user's key is a string whatever its type. Rows of other accounts are
    never included, even those that name one of this user's addresses.
    """
    changes = (
        EmailChange.objects.using(user._state.db).filter(user=user).order_by("created_at", "pk")
    )
    return {
        "version": EXPORT_VERSION,
        "user": {
            "pk": str(user.pk),
            "email": getattr(user, user.get_email_field_name()) or "",
            "is_email_verified": get_store().is_verified(user),
            "email_verified_at": _value(get_store().verified_at(user)),
        },
        "email_changes": [
            {name: _value(value) for name, value in zip(EXPORTED_CHANGE_FIELDS, row, strict=True)}
            for row in changes.values_list(*EXPORTED_CHANGE_FIELDS)
        ],
    }
