from django.urls import path

from loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("", views.at_risk, name="at-risk"),
    path("patients/<int:pk>/check-ins/", views.plan_check_in, name="checkin-plan"),
    path("check-ins/<int:pk>/done/", views.complete_check_in, name="checkin-complete"),
]
