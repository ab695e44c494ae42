"""Admin pages for managers, scoped to the practices they manage.

The admin is Django's, but every queryset, every foreign-key choice and every object
permission goes through the same tenancy helpers as the rest of the product.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.http import Http404

from core.models import Organisation, Practice
from core.selectors import managed_practices_for_user
from core.services import audit_record


class PracticeScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a practice through ``practice_path``."""

    practice_path = "practice"
    audit_object_type = ""

    def _managed(self, request):
        return managed_practices_for_user(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(**{f"{self.practice_path}__in": self._managed(request)})

    def has_module_permission(self, request):
        return request.user.is_active and self._managed(request).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Practice:
            kwargs["queryset"] = self._managed(request)
        elif any(f.name == "practice" for f in related._meta.get_fields()):
            kwargs["queryset"] = related._default_manager.filter(
                practice__in=self._managed(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Missing and another practice's object look the same: 404, never a hint.
            raise Http404("No such object")
        return obj

    def _patient_id(self, obj):
        return getattr(obj, "patient_id", None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            with transaction.atomic():
                self._audit(
                    request, self.get_object(request, admin.utils.unquote(object_id)), "view"
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def _practice_of(self, obj):
        target = obj
        for part in self.practice_path.split("__"):
            target = getattr(target, part)
        return target

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(
            request, obj, "update" if change else "create", fields=sorted(form.changed_data)
        )

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "delete")
        super().delete_queryset(request, queryset)

    def _audit(self, request, obj, action: str, **detail) -> None:
        if not self.audit_object_type:
            return
        audit_record(
            action=action,
            object_type=self.audit_object_type,
            object_id=obj.pk,
            patient_id=self._patient_id(obj),
            practice=self._practice_of(obj),
            request=request,
            detail={"via": "admin", **detail},
        )


def managed_organisations(request):
    return Organisation.objects.filter(
        practices__in=managed_practices_for_user(request.user)
    ).distinct()


class OrganisationScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin for an organisation's settings (surveys, policies, catalogues).

    Managers of any of the organisation's practices edit them; nobody sees another
    organisation's rows, and a missing or foreign row is a 404.
    """

    organisation_path = "organisation"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(**{f"{self.organisation_path}__in": managed_organisations(request)})

    def has_module_permission(self, request):
        return request.user.is_active and managed_practices_for_user(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Organisation:
            kwargs["queryset"] = managed_organisations(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object")
        return obj
