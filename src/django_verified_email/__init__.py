"""Verify email addresses and change them safely with a dual one-time-link flow."""

__version__ = "0.1.0.dev0"
