"""The bridge to django-allauth: ``"django_verified_email.contrib.allauth"``.

Installed after ``"allauth.account"``, with its middleware
(``django_verified_email.contrib.allauth.middleware.AllauthGuardMiddleware``),
it keeps allauth's own email pages and headless endpoint from going around
the dual-link flow, and sends allauth's ``email_changed`` / ``email_confirmed``
when this app's flows change or verify an address. docs/allauth.md has the
whole story.
"""
