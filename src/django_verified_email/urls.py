from django.urls import path

from . import views

app_name = "verified_email"

urlpatterns = [
    path("", views.status, name="status"),
    path("verify/", views.verify_send, name="verify-send"),
    # Before verify-confirm's catch-all token, so "code" is never read as one.
    path("verify/code/", views.verify_code, name="verify-code"),
    path("verify/<str:token>/", views.verify_confirm, name="verify-confirm"),
    path("change/", views.change, name="change"),
    # Listed before change-confirm's catch-all token so "resend" and "cancel"
    # are never read as tokens.
    path("change/resend/", views.change_resend, name="change-resend"),
    path("change/cancel/", views.change_cancel, name="change-cancel"),
    path("change/code/", views.change_code, name="change-code"),
    path("change/reauth-code/", views.change_reauth_code, name="change-reauth-code"),
    path("change/confirm/<str:token>/", views.change_confirm, name="change-confirm"),
    path("change/revert/<str:token>/", views.change_revert, name="change-revert"),
    path("change/stop/<str:token>/", views.change_stop, name="change-stop"),
    path("change/keep/<str:token>/", views.change_keep, name="change-keep"),
    path(
        "change/set-password/<str:token>/",
        views.change_set_password,
        name="change-set-password",
    ),
    # The same links without their trailing slash (see views.token_slash).
    *(
        path(route, views.token_slash, {"name": f"verified_email:{name}"})
        for route, name in [
            ("verify/<str:token>", "verify-confirm"),
            ("change/confirm/<str:token>", "change-confirm"),
            ("change/revert/<str:token>", "change-revert"),
            ("change/stop/<str:token>", "change-stop"),
            ("change/keep/<str:token>", "change-keep"),
            ("change/set-password/<str:token>", "change-set-password"),
        ]
    ),
]
