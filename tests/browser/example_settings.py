"""The example project's settings, as shipped.

Kept as the one place the browser test could adjust them. The resend
cooldown used to be switched off here, because the test asks for a change a
second after the sign-up sent the verification link; cooldowns are now kept
per purpose and per address, so that is no longer a repeat.
"""

from pocket_wallet.settings import *  # noqa: F403
