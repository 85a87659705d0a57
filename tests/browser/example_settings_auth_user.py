"""The example project's settings on Django's default ``auth.User``, as shipped."""

from pocket_wallet.settings_auth_user import *  # noqa: F403
