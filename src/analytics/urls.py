from django.urls import path

from analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.practice_dashboard, name="practice"),
    path("export.csv", views.practice_export, name="practice-export"),
    path("group/", views.group_dashboard, name="group"),
    path("group/export.csv", views.group_export, name="group-export"),
]
