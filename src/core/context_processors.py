from core.selectors import CASE_ROLES, MANAGING_ROLES, practices_for_user, roles_at


def current_practice(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    practice = request.practice
    roles = roles_at(request.user, practice) if practice else set()
    return {
        "practice": practice if practice else None,
        # Names only: a group admin may have a thousand practices in the switcher.
        "my_practices": practices_for_user(request.user)
        .order_by("organisation__name", "name")
        .values("pk", "name"),
        "is_manager": bool(roles & MANAGING_ROLES),
        "works_cases": bool(roles & CASE_ROLES),
    }
