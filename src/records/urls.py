from django.urls import path

from records import views

app_name = "records"
urlpatterns = [
    # Public: a signed, expiring token, never patient data in the address.
    path("r/<str:token>/", views.download, name="download"),
]
