from django.urls import path

from . import views

app_name = "verified_email_api"

urlpatterns = [
    path("status/", views.StatusView.as_view(), name="status"),
    path("verify/", views.VerifySendView.as_view(), name="verify-send"),
    path("verify/confirm/", views.VerifyConfirmView.as_view(), name="verify-confirm"),
    path("change/", views.ChangeView.as_view(), name="change"),
    path("change/reauth-code/", views.ChangeReauthCodeView.as_view(), name="change-reauth-code"),
    path("change/confirm/", views.ChangeConfirmView.as_view(), name="change-confirm"),
    path("change/resend/", views.ChangeResendView.as_view(), name="change-resend"),
    path("change/cancel/", views.ChangeCancelView.as_view(), name="change-cancel"),
    path("change/stop/", views.ChangeStopView.as_view(), name="change-stop"),
    path("change/deny/", views.ChangeDenyView.as_view(), name="change-deny"),
    path("change/revert/", views.ChangeRevertView.as_view(), name="change-revert"),
    path("change/keep/", views.ChangeKeepView.as_view(), name="change-keep"),
    path("change/set-password/", views.SetPasswordView.as_view(), name="change-set-password"),
]
