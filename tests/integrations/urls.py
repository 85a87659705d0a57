"""The API's test URLs plus simplejwt's refresh endpoint."""

from django.urls import path
from rest_framework_simplejwt.views import TokenRefreshView

from tests.api.urls import urlpatterns as api_urlpatterns

urlpatterns = [
    *api_urlpatterns,
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
]
