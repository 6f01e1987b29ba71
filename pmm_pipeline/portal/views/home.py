"""The home page by role: the Secretariat's overview, a reviewer's assigned members, an NCP's own member."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from pmm_pipeline.portal import access
from pmm_pipeline.portal.views.common import cycles_view, local_today


@login_required
@require_GET
def home(request):
    role = access.role_of(request.user)
    today = local_today()
    if role == "secretariat":
        return redirect("portal:secretariat")
    if role == "reviewer":
        return render(
            request,
            "portal/reviewer_home.html",
            {"members": access.assigned_members(request.user), "cycles": cycles_view(today)},
        )
    if role == "ncp":
        return render(
            request,
            "portal/ncp_home.html",
            {
                "member": access.member_of(request.user),
                "members": [access.member_of(request.user)],
                "cycles": cycles_view(today),
            },
        )
    raise PermissionDenied()
