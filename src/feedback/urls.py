from django.urls import path

from feedback import views

app_name = "feedback"
urlpatterns = [
    path("feedback/", views.inbox, name="inbox"),
    path("feedback/<int:pk>/status/", views.item_status, name="item-status"),
    path("feedback/note/", views.staff_note, name="staff-note"),
    path("feedback/dashboard/", views.dashboard, name="dashboard"),
    path("feedback/reply-check/", views.reply_check, name="reply-check"),
    path("feedback/poster/", views.talk_poster, name="talk-poster"),
    # Public pages: a signed token or the practice's public slugs, never patient data.
    path("s/<str:token>/", views.survey_answer, name="survey-answer"),
    path("s/<str:token>/thanks/", views.survey_thanks, name="survey-thanks"),
    path("s/<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
    path("talk/<slug:org>/<slug:practice>/", views.talk_to_us, name="talk-to-us"),
]
