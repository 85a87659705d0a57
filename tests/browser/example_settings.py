"""The example project's settings, as shipped, with the resend cooldown off.

The test acts faster than any person: it asks for the change a second after
the sign-up sent the verification link, which the cooldown (one send per user
per RESEND_COOLDOWN seconds) would refuse. Waiting it out would make the test
slow; the cooldown has its own tests in the main suite.
"""

from pocket_wallet.settings import *  # noqa: F403
from pocket_wallet.settings import VERIFIED_EMAIL

VERIFIED_EMAIL = {**VERIFIED_EMAIL, "RESEND_COOLDOWN": 0}
