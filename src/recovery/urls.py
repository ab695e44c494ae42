from django.urls import path

from recovery import views

app_name = "recovery"
urlpatterns = [
    path("", views.case_inbox, name="case-inbox"),
    path("new/", views.case_new, name="case-new"),
    path("<int:pk>/", views.case_detail, name="case-detail"),
    path("<int:pk>/steps/<slug:kind>/", views.step_complete, name="step-complete"),
    path("<int:pk>/pause/", views.case_pause, name="case-pause"),
    path("<int:pk>/resume/", views.case_resume, name="case-resume"),
    path("<int:pk>/owner/", views.case_owner, name="case-owner"),
    path("<int:pk>/severity/", views.case_severity, name="case-severity"),
    path("<int:pk>/close/", views.case_close, name="case-close"),
    path("<int:pk>/gestures/", views.gesture_propose, name="gesture-propose"),
    path("<int:pk>/alerts/", views.alert_leave, name="alert-leave"),
    path("<int:pk>/follow-up-survey/", views.follow_up_survey, name="follow-up-survey"),
    path("<int:pk>/messages/<slug:kind>/", views.message_compose, name="message-compose"),
    path("gestures/<int:pk>/decide/", views.gesture_decide, name="gesture-decide"),
    path("alerts/<int:pk>/done/", views.alert_done, name="alert-done"),
]
