"""The root URLs plus the messaging app's, until the root includes them itself."""

from django.urls import URLResolver, include, path

from rapport import urls as root

handler403 = root.handler403
handler404 = root.handler404
handler500 = root.handler500

_included = any(isinstance(p, URLResolver) and p.namespace == "messaging" for p in root.urlpatterns)
urlpatterns = list(root.urlpatterns)
if not _included:
    urlpatterns.append(path("messages/", include("messaging.urls")))
