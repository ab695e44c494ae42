from django.urls import path

from vendors import views

app_name = "vendors"
urlpatterns = [
    path("", views.vendor_list, name="vendor-list"),
    path("new/", views.vendor_new, name="vendor-new"),
    path("standards/", views.standards_edit, name="standards-edit"),
    path("<int:pk>/", views.vendor_detail, name="vendor-detail"),
    path("<int:pk>/edit/", views.vendor_edit, name="vendor-edit"),
    path("<int:pk>/contacts/", views.contact_add, name="contact-add"),
    path("<int:pk>/work/new/", views.involvement_new, name="involvement-new"),
    path("<int:pk>/defects/", views.defect_report, name="defect-report"),
    path("<int:pk>/standards/send/", views.standards_send, name="standards-send"),
    path(
        "<int:pk>/standards/acknowledged/",
        views.standards_acknowledge,
        name="standards-acknowledge",
    ),
    path("<int:pk>/scorecard/", views.vendor_scorecard, name="vendor-scorecard"),
    path("<int:pk>/scorecard.csv", views.scorecard_csv_view, name="scorecard-csv"),
    path("<int:pk>/scorecard.pdf", views.scorecard_pdf_view, name="scorecard-pdf"),
    path("work/<int:pk>/", views.involvement_record, name="involvement-record"),
    path("cases/<int:pk>/third-party/", views.case_vendor, name="case-vendor"),
]
