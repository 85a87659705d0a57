"""The API tests' URLs plus Django's password reset views: pages point to them."""

from django.urls import include, path

from tests.api.urls import urlpatterns as base

urlpatterns = [*base, path("accounts/", include("django.contrib.auth.urls"))]
