from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_verified_email import flows, is_email_verified
from django_verified_email.exceptions import VerifiedEmailError
from django_verified_email.stores import get_store

from . import demo
from .forms import SignupForm


def home(request):
    chosen = settings.VERIFIED_EMAIL
    safe = [(name, chosen.get(name), why) for name, why in demo.SAFE_SETTINGS.items()]
    return render(request, "accounts/home.html", {"safe_settings": safe})


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            # The app's BASE_URL setting wins over this when it is set.
            flows.send_verification(user, base_url=request.build_absolute_uri("/"))
        except VerifiedEmailError as error:
            messages.warning(request, error.detail)
        else:
            messages.success(
                request,
                _("Welcome! We sent a verification link to %(email)s: see the outbox.")
                % {"email": user.email},
            )
        return redirect("profile")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    extra_context = {"demo_accounts": demo.ACCOUNTS}


@login_required
def profile(request):
    # Read through the app, not the user's fields: on auth.User the verified
    # state lives in the app's own table (settings_auth_user.py).
    context = {
        "change": flows.pending_change(request.user),
        "email_verified": is_email_verified(request.user),
        "email_verified_at": get_store().verified_at(request.user),
    }
    return render(request, "accounts/profile.html", context)
