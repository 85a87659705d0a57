"""The API's test URLs plus simplejwt's refresh endpoint and allauth's pages."""

from django.urls import include, path
from rest_framework_simplejwt.views import TokenRefreshView

from tests.api.urls import urlpatterns as api_urlpatterns

urlpatterns = [
    *api_urlpatterns,
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("accounts/", include("allauth.urls")),
]
