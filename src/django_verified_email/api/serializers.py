"""The shapes of request and response bodies.

Request serializers check shape only (which fields, of which JSON type):
whether an address, a password or a token is any good is for ``flows`` to
say, so the rules stay in one place.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from .errors import InvalidRequest


class StringField(serializers.CharField):
    """A JSON string, as sent: no number coerced, no whitespace trimmed."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false, as sent: no "yes", 1 or "true" read as a choice."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class RequestSerializer(serializers.Serializer):
    @classmethod
    def read(cls, data):
        """The validated fields of a request body, or ``InvalidRequest``."""
        if not isinstance(data, dict):
            raise InvalidRequest
        serializer = cls(data=data)
        if not serializer.is_valid():
            field, messages = next(iter(serializer.errors.items()))
            if field == api_settings.NON_FIELD_ERRORS_KEY:
                raise InvalidRequest(messages[0])
            raise InvalidRequest(f"{field}: {messages[0]}")
        return serializer.validated_data


class TokenSerializer(RequestSerializer):
    # An empty token is a string like any other: the flow calls it invalid.
    token = StringField(allow_blank=True)

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailToken"


class RevertSerializer(TokenSerializer):
    """A revert: the link's token, and optionally a password the account had."""

    # Left out or blank: no password, so the revert is scheduled.
    password = StringField(allow_blank=True, required=False)

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailRevert"


class SetPasswordSerializer(TokenSerializer):
    # Blank reaches the flow, which answers invalid_password like any refused one.
    new_password = StringField(allow_blank=True)

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailSetPassword"


class ConfirmSerializer(RequestSerializer):
    """A confirm body: ``{"token"}`` from a link, or ``{"code"}`` from the same email."""

    token = StringField(allow_blank=True, required=False)
    code = StringField(allow_blank=True, required=False)

    def validate(self, attrs):
        if ("token" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(_("Send either a token or a code, not both."))
        return attrs

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailConfirm"


class ChangeRequestSerializer(RequestSerializer):
    new_email = StringField(allow_blank=True)
    password = StringField(required=False)
    # In place of the password, for an account without one (status's
    # ``reauthentication`` is "code"): the code ``change/reauth-code/`` sent.
    code = StringField(required=False, allow_blank=True)
    # The user can no longer open their current address: a recovery.
    old_email_lost = StrictBooleanField(required=False, default=False)
    # The one-time password of the user's second factor, for a client whose
    # session did not pass it (tokens, JWTs).
    otp = StringField(required=False, allow_blank=True)

    def validate(self, attrs):
        # Neither is right only with ``otp``: an account whose
        # ``reauthentication`` is "second_factor" sends that alone.
        both = "password" in attrs and "code" in attrs
        neither = "password" not in attrs and "code" not in attrs and "otp" not in attrs
        if both or neither:
            raise serializers.ValidationError(_("Send either a password or a code, not both."))
        return attrs

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailChangeRequest"


class PendingChangeSerializer(serializers.Serializer):
    new_email = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    # When a scheduled recovery completes by itself; null for any other change.
    completes_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailPendingChange"


class StatusSerializer(serializers.Serializer):
    email = serializers.CharField()
    is_email_verified = serializers.BooleanField()
    pending_change = PendingChangeSerializer(allow_null=True)
    # How the user re-authenticates before a change: "password"; for an
    # account without a usable password "code", "second_factor" (``otp``
    # alone) or "none" (refused: ``reauthentication_unavailable``).
    reauthentication = serializers.CharField()

    class Meta:
        # Schema component names (drf-spectacular) clear of other apps' (djoser's).
        ref_name = "VerifiedEmailStatus"
