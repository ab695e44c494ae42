from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.api import api
from core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("", include("core.urls")),
    path("patients/", include("patients.urls")),
    path("", include("feedback.urls")),
    path("messages/", include("messaging.urls")),
    path("recovery/", include("recovery.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("vendors/", include("vendors.urls")),
    path("", include("records.urls")),
    path("", include("calls.urls")),
    path("analytics/", include("analytics.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
handler403 = "core.views.forbidden"
