from django.urls import include, path

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("account/email/", include("django_verified_email.urls")),
    # The JSON API (the tox env installs the drf extra): test_reauth.py's otp.
    path("api/account/email/", include("django_verified_email.api.urls")),
]
