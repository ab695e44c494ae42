from django.urls import path

from core import views

app_name = "core"
urlpatterns = [
    path("practice/switch/", views.practice_switch, name="practice-switch"),
]
