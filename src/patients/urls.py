from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("<int:pk>/", views.patient_detail, name="patient-detail"),
    path("<int:pk>/profile/", views.patient_profile_edit, name="patient-profile-edit"),
    path("day/", views.day_sheet, name="day-sheet"),
]
