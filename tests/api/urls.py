"""The test project's URLs plus the JSON API, for tests/api only.

Kept apart from tests/testapp/urls.py so the rest of the suite runs without
Django REST framework.
"""

from django.urls import include, path

from tests.testapp.urls import urlpatterns as html_urlpatterns

urlpatterns = [
    *html_urlpatterns,
    path("api/account/email/", include("django_verified_email.api.urls")),
]
