"""Calls: the telephone system's webhooks (public: signed per practice, no login), the
missed-call list and the call figures (staff of the practice)."""

from django.urls import path

from calls import views, webhooks

app_name = "calls"

urlpatterns = [
    path("hooks/calls/<str:webhook_id>/", webhooks.generic_hook, name="webhook"),
    path("hooks/calls/<str:webhook_id>/twilio/", webhooks.twilio_hook, name="webhook-twilio"),
    path("calls/", views.callback_list, name="callback-list"),
    path("calls/dashboard/", views.dashboard, name="dashboard"),
    path("calls/callbacks/<int:pk>/take/", views.callback_assign_view, name="callback-assign"),
    path(
        "calls/callbacks/<int:pk>/complete/", views.callback_complete_view, name="callback-complete"
    ),
]
