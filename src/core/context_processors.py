from core.selectors import can_manage, practices_for_user


def current_practice(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    practice = request.practice
    return {
        "practice": practice if practice else None,
        "my_practices": practices_for_user(request.user).order_by("organisation__name", "name"),
        "is_manager": bool(practice) and can_manage(request.user, practice),
    }
