"""The demo accounts: shown on the login page, created by ``ensure_demo_user``."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    email: str
    staff: bool
    purpose: str


ACCOUNTS = (
    DemoAccount("demo", "demo-password-123", "demo@example.com", False, "try the dual-link change"),
    DemoAccount(
        "taken", "taken-password-123", "taken@example.com", False, "owns an address to bump into"
    ),
    DemoAccount("admin", "admin-password-123", "admin@example.com", True, "the admin at /admin/"),
)


#: The app's settings a wallet turns on, and why: shown on the home page
#: with the values the site runs with.
SAFE_SETTINGS = {
    "LINK_MAX_AGE": _("Links work for a short time only."),
    "REAUTH_MAX_ATTEMPTS": _("Wrong passwords allowed before changes lock."),
    "REAUTH_LOCKOUT": _("How long that lock lasts."),
    "REVEAL_TAKEN_EMAIL": _(
        "Off: a taken address looks accepted, so nobody learns who has an account; "
        "the address's owner gets a notice instead."
    ),
    "NOTIFY_OLD_EMAIL": _("The old address hears of a change, with a link to undo it."),
    "CHANGE_LOCK_AFTER_REVERT": _("After an undo, no new change for a day."),
    "LOGOUT_OTHER_SESSIONS": _("A changed address signs every other device out."),
    "RECOVERY_DELAY": _(
        "Lost your old mailbox? The change waits a week, and the old address can stop it."
    ),
}
