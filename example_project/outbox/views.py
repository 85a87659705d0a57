from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .models import Message

# The stored HTML is shown as a page of its own, locked down: no scripts,
# nothing from another origin, and a sandbox so it cannot act as this site.
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@require_http_methods(["GET", "HEAD"])
def message_list(request):
    outbox = Message.objects.all()
    to = request.GET.get("to", "").strip()
    if to:
        outbox = outbox.filter(to__icontains=to)
    response = render(request, "outbox/list.html", {"outbox": outbox[:100], "to": to})
    # The page shows live one-time links: keep them out of caches, and out of
    # Referer to other sites. Not "no-referrer": browsers then send
    # "Origin: null" with the page's own forms, which CSRF protection refuses.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


@require_http_methods(["GET", "HEAD"])
def message_html(request, pk):
    message = get_object_or_404(Message, pk=pk)
    response = HttpResponse(message.html_body, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = HTML_POLICY
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_POST
def clear(request):
    Message.objects.all().delete()
    messages.success(request, _("The outbox is empty."))
    return redirect("outbox:list")
