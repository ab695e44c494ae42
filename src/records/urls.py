from django.urls import path

from records import departure_views, public_views, views

app_name = "records"
urlpatterns = [
    # Public: a signed, expiring token, never patient data in the address.
    path("r/<str:token>/", views.download, name="download"),
    path(
        "records-request/<slug:org>/<slug:practice>/",
        public_views.public_request,
        name="public-request",
    ),
    path(
        "records-request/<slug:org>/<slug:practice>/verify/",
        public_views.public_verify,
        name="public-verify",
    ),
    path(
        "records-request/<slug:org>/<slug:practice>/details/",
        public_views.public_details,
        name="public-details",
    ),
    path(
        "records-request/<slug:org>/<slug:practice>/done/",
        public_views.public_done,
        name="public-done",
    ),
    path("records/", views.request_list, name="request-list"),
    path("records/new/<int:patient_pk>/", views.request_new, name="request-new"),
    path("records/<int:pk>/", views.request_detail, name="request-detail"),
    path("records/<int:pk>/fulfil/", views.request_fulfil, name="request-fulfil"),
    path("records/<int:pk>/extend/", views.request_extend, name="request-extend"),
    path("records/<int:pk>/fee/", views.request_fee, name="request-fee"),
    path(
        "records/depart/<int:patient_pk>/",
        departure_views.patient_depart_view,
        name="patient-depart",
    ),
    path(
        "records/return/<int:patient_pk>/",
        departure_views.patient_return_view,
        name="patient-return",
    ),
    path("records/departures/", departure_views.departures, name="departures"),
]
