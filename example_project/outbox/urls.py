from django.urls import path

from . import views

app_name = "outbox"

urlpatterns = [
    path("", views.message_list, name="list"),
    path("<int:pk>/html/", views.message_html, name="html"),
    path("clear/", views.clear, name="clear"),
]
