"""A second factor of the host's own, for the ``REAUTHENTICATE`` hook's tests.

A user is enrolled with one fixed one-time password (``enrol``); a session
passed the factor when it holds ``SESSION_KEY`` for that user (``pass_in``).
Every ``verify`` call is recorded, so tests can tell it was never tried.
"""

ENROLLED: dict[object, str] = {}
VERIFIED: list[tuple[object, str]] = []
SESSION_KEY = "paper_factor_passed"
PATH = "tests.paper_factor.PaperFactor"
OTP = "424242"


def enrol(user, otp=OTP):
    ENROLLED[user.pk] = otp


def pass_in(client, user):
    session = client.session
    session[SESSION_KEY] = user.pk
    session.save()


def reset():
    ENROLLED.clear()
    VERIFIED.clear()


class PaperFactor:
    def is_enabled(self, user):
        return user.pk in ENROLLED

    def passed(self, request, user):
        session = getattr(request, "session", None)
        return session is not None and session.get(SESSION_KEY) == user.pk

    def verify(self, user, otp):
        VERIFIED.append((user.pk, otp))
        return ENROLLED.get(user.pk) == otp


#: Not of the shape: for the system check.
class NotAFactor:
    def is_enabled(self, user):
        return True
