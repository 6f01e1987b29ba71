"""The Secretariat's pages: the cycle's overview, the accounts (create, disable, assign members) and the audit trail."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pmm_pipeline.portal import access, accounts, intake, overview
from pmm_pipeline.portal.forms import AccountForm, AssignForm
from pmm_pipeline.portal.models import AuditEvent, Upload
from pmm_pipeline.portal.views.common import cycle_or_404, cycles_view, local_today, pmm_settings

AUDIT_PAGE = 200


@login_required
@require_GET
def secretariat(request):
    access.require_role(request.user, "secretariat")
    pmm = pmm_settings()
    today = local_today()
    cycles = cycles_view(today)
    chosen = request.GET.get("cycle") or next((c["id"] for c in cycles if c["is_collecting"]), cycles[0]["id"])
    cycle = cycle_or_404(chosen)
    summary = overview.completeness(
        intake.specs(pmm).reference, cycle, request.LANGUAGE_CODE, pmm.ui_url, intake.accepted_members(pmm, cycle.id)
    )
    recent = Upload.objects.filter(cycle=cycle.id).order_by("-received_at", "-id")[:100]
    return render(
        request,
        "portal/secretariat.html",
        {
            "cycles": cycles,
            "cycle": cycle,
            "summary": summary,
            "recent": recent,
            "dagster_link": overview.runs_link(pmm.ui_url, cycle.id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def secretariat_accounts(request):
    access.require_role(request.user, "secretariat")
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            accounts.add_account(
                data["login"],
                data["role"],
                member=data["member"] or None,
                lang=data["lang"],
                password=data["password"],
                known_members=_known_members(),
                by=request.user.username,
                request=request,
            )
        except accounts.AccountError as err:
            form.add_error(None, str(err))
        else:
            messages.success(request, _("Account %(login)s created.") % {"login": data["login"]})
            return redirect("portal:secretariat_accounts")
    return render(
        request,
        "portal/accounts.html",
        {"form": form, "accounts": accounts.list_accounts(), "assign_form": AssignForm()},
    )


def _known_members() -> set[str]:
    return intake.specs(pmm_settings()).reference.known_member_codes()


@login_required
@require_POST
def secretariat_disable(request, login):
    access.require_role(request.user, "secretariat")
    try:
        accounts.disable_account(login, by=request.user.username, request=request)
    except accounts.AccountError:
        raise Http404() from None
    messages.success(request, _("Account %(login)s disabled.") % {"login": login})
    return redirect("portal:secretariat_accounts")


@login_required
@require_POST
def secretariat_assign(request, login):
    access.require_role(request.user, "secretariat")
    form = AssignForm(request.POST)
    try:
        accounts.get_account(login)
    except accounts.AccountError:
        raise Http404() from None
    if not form.is_valid():
        messages.error(request, _("Give a member code."))
    else:
        try:
            accounts.assign_reviewer(
                login,
                form.cleaned_data["member"],
                known_members=_known_members(),
                by=request.user.username,
                request=request,
            )
        except accounts.AccountError as err:
            messages.error(request, str(err))
        else:
            messages.success(request, _("Reviewer %(login)s assigned.") % {"login": login})
    return redirect("portal:secretariat_accounts")


@login_required
@require_GET
def secretariat_audit(request):
    access.require_role(request.user, "secretariat")
    events = AuditEvent.objects.all()
    for field in ("member", "cycle", "action", "login"):
        value = request.GET.get(field)
        if value:
            events = events.filter(**{field: value})
    return render(request, "portal/audit.html", {"events": events[:AUDIT_PAGE], "filters": request.GET})
