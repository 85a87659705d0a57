from django_otp.models import Device


class PaperDevice(Device):
    """A django-otp device type without ``TimestampMixin``: no creation time."""

    def verify_token(self, token):
        return False
