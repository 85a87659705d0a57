from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("signup/", account_views.signup, name="signup"),
    path("profile/", account_views.profile, name="profile"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("outbox/", include("outbox.urls")),
    path("admin/", admin.site.urls),
    # The two includes the README tells a host to add.
    path("account/email/", include("django_verified_email.urls")),
]

# The JSON API comes with the [drf] extra; the site works without it.
try:
    import rest_framework  # noqa: F401
    from django_verified_email.api import urls as api_urls
except ImportError:
    api_urls = None
else:
    urlpatterns.append(path("api/account/email/", include(api_urls)))
