"""The browser pages: the NCP's way through, the reviewer's notes, the Secretariat's view. Logic stays in modules.

Every page that shows a member's resources goes through access.require first; templates escape everything (no
`|safe` anywhere), so nothing a member typed is ever rendered as markup.
"""

import datetime as dt
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pmm_pipeline.portal import access, accounts, audit, intake, overview, receiving
from pmm_pipeline.portal.display import deadline, shown_verdict
from pmm_pipeline.portal.forms import AccountForm, AssignForm, DisclosureForm, NoteForm, UploadForm
from pmm_pipeline.portal.models import AuditEvent, Note, Upload
from pmm_pipeline.portal.uploads import FileTooLarge

STATES = {
    "not yet open": gettext_lazy("not yet open"),
    "open": gettext_lazy("open"),
    "reopened": gettext_lazy("reopened"),
    "closed": gettext_lazy("closed"),
}
AUDIT_PAGE = 200


def _pmm():
    return settings.PMM_SETTINGS


def common_context(request):
    """What the base template needs on every page: the role, the languages, the current path to come back to."""
    return {
        "role": access.role_of(request.user),
        "languages": settings.LANGUAGES,
        "current_lang": getattr(request, "LANGUAGE_CODE", "en"),
        "here": request.get_full_path(),
    }


def _today() -> dt.date:
    return intake.specs(_pmm()).reference.cycles.local_day(dt.datetime.now(dt.UTC))


def _cycle_or_404(cycle_id: str):
    cycle = intake.cycle_of(_pmm(), cycle_id)
    if cycle is None:
        raise Http404()
    return cycle


def _member_resource(request, cycle_id: str, member: str, action: str = access.READ):
    """The cycle, once the account may act on the member's resources (404 or 403 otherwise)."""
    access.require(request.user, member, action)
    if not intake.member_known(_pmm(), member):
        raise Http404()
    return _cycle_or_404(cycle_id)


def _cycles_view(today):
    rows = []
    for cycle in sorted(intake.specs(_pmm()).reference.cycles.cycles, key=lambda c: c.collection.opens, reverse=True):
        state, last_day = deadline(cycle, today)
        rows.append(
            {
                "id": cycle.id,
                "year": cycle.reporting_year,
                "state": STATES[state],
                "is_collecting": state in ("open", "reopened"),
                "opens": cycle.collection.opens,
                "last_day": last_day,
            }
        )
    return rows


# --- signing in and out, language ---------------------------------------------------------------------
class SignInView(auth_views.LoginView):
    template_name = "portal/sign_in.html"
    redirect_authenticated_user = True


@require_POST
def sign_out(request):
    return auth_views.LogoutView.as_view(next_page="portal:sign_in")(request)


@require_POST
def set_language(request):
    lang = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = "/"
    response = HttpResponseRedirect(target)
    if lang in dict(settings.LANGUAGES):
        if access.role_of(request.user) is not None:
            profile = request.user.pmm
            profile.lang = lang
            profile.save(update_fields=["lang"])
            audit.record("language_change", login=request.user.username, request=request, lang=lang)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            lang,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=True,
            max_age=365 * 24 * 3600,
        )
    return response


@require_GET
def stylesheet(request):
    path = settings.PORTAL_STATIC / "portal.css"
    return HttpResponse(path.read_bytes(), content_type="text/css; charset=utf-8")


# --- home by role -------------------------------------------------------------------------------------
@login_required
@require_GET
def home(request):
    role = access.role_of(request.user)
    today = _today()
    if role == "secretariat":
        return redirect("portal:secretariat")
    if role == "reviewer":
        return render(
            request,
            "portal/reviewer_home.html",
            {"members": access.assigned_members(request.user), "cycles": _cycles_view(today)},
        )
    if role == "ncp":
        return render(
            request,
            "portal/ncp_home.html",
            {
                "member": access.member_of(request.user),
                "members": [access.member_of(request.user)],
                "cycles": _cycles_view(today),
            },
        )
    raise PermissionDenied()


# --- a member's cycle -----------------------------------------------------------------------------------
def _answers_with_notes(cycle_id: str, member: str):
    latest = intake.latest_answers(_pmm(), cycle_id, member)
    notes: dict[tuple[str, int], list[Note]] = {}
    for note in Note.objects.filter(cycle=cycle_id, member=member):
        notes.setdefault((note.item, note.year), []).append(note)
    rows = []
    for answer in latest.get("answers", []):
        key = (answer.get("item"), answer.get("year"))
        rows.append({**answer, "notes": notes.pop(key, [])})
    # Notes on answers no longer in the latest version stay visible: a reviewer's word is never lost.
    for (item, year), rest in sorted(notes.items()):
        rows.append({"item": item, "year": year, "status": "", "value": None, "notes": rest})
    return rows


@login_required
@require_GET
def member_cycle(request, cycle, member):
    cycle_obj = _member_resource(request, cycle, member)
    state, last_day = deadline(cycle_obj, _today())
    uploads = Upload.objects.filter(cycle=cycle, member=member).order_by("-received_at", "-id")[:50]
    rows = _answers_with_notes(cycle, member)
    role = access.role_of(request.user)
    note_form = NoteForm(answers=[(r["item"], r["year"]) for r in rows]) if role == "reviewer" else None
    return render(
        request,
        "portal/member_cycle.html",
        {
            "cycle": cycle_obj,
            "member": member,
            "state": STATES[state],
            "collecting": state in ("open", "reopened"),
            "last_day": last_day,
            "uploads": uploads,
            "latest": uploads[0] if uploads else None,
            "upload_form": UploadForm() if role == "ncp" else None,
            "answers": rows,
            "note_form": note_form,
            "can_submit": role == "ncp",
            "dagster_link": overview.runs_link(_pmm().ui_url, cycle, member) if role == "secretariat" else None,
            "has_profile": intake.profile_page(_pmm(), cycle, member, request.LANGUAGE_CODE) is not None,
        },
    )


@login_required
@require_GET
def questionnaire(request, cycle, member):
    _member_resource(request, cycle, member)
    lang = request.LANGUAGE_CODE
    data = intake.questionnaire(_pmm(), cycle, member, lang)
    audit.record("download", login=request.user.username, request=request, member=member, cycle=cycle, lang=lang)
    name = f"PMM_{member}_{cycle}_{lang}.xlsx"
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{quote(name)}"'
    return response


# A profile is the pipeline's own HTML (inline styles, no script needed): shown in a sandbox that runs nothing.
PROFILE_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@login_required
@require_GET
def profile(request, cycle, member):
    _member_resource(request, cycle, member)
    page = intake.profile_page(_pmm(), cycle, member, request.LANGUAGE_CODE)
    if page is None:
        raise Http404()
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PROFILE_POLICY  # django-csp keeps a policy the view has set
    return response


@login_required
@require_POST
def upload(request, cycle, member):
    _member_resource(request, cycle, member, access.SUBMIT)
    try:
        form = UploadForm(request.POST, request.FILES)
        valid = form.is_valid()
    except FileTooLarge:
        audit.record(
            "upload_refused",
            login=request.user.username,
            request=request,
            member=member,
            cycle=cycle,
            reason_code="file_too_large",
        )
        return HttpResponse(
            _("The file is larger than the limit of %(limit)s bytes.") % {"limit": _pmm().intake_limits.max_file_bytes},
            status=413,
            content_type="text/plain; charset=utf-8",
        )
    if not valid:
        messages.error(request, _("Choose a file to send."))
        return redirect("portal:member_cycle", cycle=cycle, member=member)
    sent = form.cleaned_data["file"]
    outcome = receiving.receive(request, request.user, cycle, sent.name, sent.read(), channel="web")
    if outcome.upload is None:
        messages.error(request, _("The file could not be taken in: ask the Secretariat."))
        return redirect("portal:member_cycle", cycle=cycle, member=member)
    return redirect("portal:upload_verdict", cycle=cycle, member=member, upload_id=outcome.upload.pk)


@login_required
@require_GET
def upload_verdict(request, cycle, member, upload_id):
    cycle_obj = _member_resource(request, cycle, member)
    row = get_object_or_404(Upload, pk=upload_id, cycle=cycle, member=member)
    return render(
        request,
        "portal/verdict.html",
        {
            "cycle": cycle_obj,
            "member": member,
            "upload": row,
            "verdict": shown_verdict(row.verdict, request.LANGUAGE_CODE, row.file_name),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def disclosure(request, cycle, member):
    action = access.SUBMIT if request.method == "POST" else access.READ
    cycle_obj = _member_resource(request, cycle, member, action)
    kpis = intake.kpis_of(_pmm(), cycle, request.LANGUAGE_CODE)
    current = intake.current_choices(_pmm(), cycle, member)
    form = DisclosureForm(request.POST or None, kpis=kpis, current=current)
    if request.method == "POST" and form.is_valid():
        choices = {k: form.cleaned_data[k] or current.get(k, "secretariat") for k, _name in kpis}
        changed = {k: v for k, v in choices.items() if v != current.get(k, "secretariat")}
        if not changed:
            messages.info(request, _("No choice was changed."))
            return redirect("portal:disclosure", cycle=cycle, member=member)
        try:
            name, data = intake.disclosure_document(_pmm(), cycle, member, choices, timezone.now())
        except intake.NoVersionYet:
            messages.error(request, _("Send your answers first: a choice is recorded with your latest answers."))
            return redirect("portal:disclosure", cycle=cycle, member=member)
        outcome = receiving.receive(request, request.user, cycle, name, data, channel="web", kind="disclosure")
        if outcome.upload is None:
            messages.error(request, _("The file could not be taken in: ask the Secretariat."))
            return redirect("portal:disclosure", cycle=cycle, member=member)
        audit.record(
            "disclosure_change",
            login=request.user.username,
            request=request,
            member=member,
            cycle=cycle,
            sha256=outcome.verdict.get("sha256") or "",
            changed=changed,
            status=outcome.verdict["status"],
        )
        return redirect("portal:upload_verdict", cycle=cycle, member=member, upload_id=outcome.upload.pk)
    return render(
        request,
        "portal/disclosure.html",
        {"cycle": cycle_obj, "member": member, "form": form, "can_submit": access.role_of(request.user) == "ncp"},
    )


@login_required
@require_POST
def add_note(request, cycle, member):
    _member_resource(request, cycle, member, access.NOTE)
    rows = _answers_with_notes(cycle, member)
    form = NoteForm(request.POST, answers=[(r["item"], r["year"]) for r in rows])
    if not form.is_valid():
        messages.error(request, _("The note was not saved: choose an answer and write the note."))
    else:
        item, year = form.item_year()
        Note.objects.create(
            author=request.user,
            login=request.user.username,
            member=member,
            cycle=cycle,
            item=item,
            year=year,
            text=form.cleaned_data["text"],
        )
        audit.record(
            "note", login=request.user.username, request=request, member=member, cycle=cycle, item=item, year=year
        )
        messages.success(request, _("Note saved: the member sees it beside the answer."))
    return redirect("portal:member_cycle", cycle=cycle, member=member)


# --- the Secretariat ------------------------------------------------------------------------------------
@login_required
@require_GET
def secretariat(request):
    access.require_role(request.user, "secretariat")
    pmm = _pmm()
    today = _today()
    cycles = _cycles_view(today)
    chosen = request.GET.get("cycle") or next((c["id"] for c in cycles if c["is_collecting"]), cycles[0]["id"])
    cycle = _cycle_or_404(chosen)
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
    return intake.specs(_pmm()).reference.known_member_codes()


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


def not_found(request, exception=None):
    return render(request, "portal/error.html", {"code": 404, "text": _("Nothing here.")}, status=404)


def forbidden(request, exception=None):
    return render(request, "portal/error.html", {"code": 403, "text": _("Your account may not do this.")}, status=403)


def csrf_failure(request, reason=""):
    with translation.override(getattr(request, "LANGUAGE_CODE", "en")):
        return render(
            request,
            "portal/error.html",
            {"code": 403, "text": _("The form expired: go back, reload the page and send it again.")},
            status=403,
        )
