"""A member's cycle: its answers with the reviewers' notes, the questionnaire, the profile, uploads and their
verdicts, the disclosure choice and notes. Every page goes through access.require (common.member_resource) first.
"""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pmm_pipeline.portal import access, audit, intake, overview, receiving
from pmm_pipeline.portal.display import deadline, shown_verdict
from pmm_pipeline.portal.forms import DisclosureForm, NoteForm, UploadForm
from pmm_pipeline.portal.models import Note, Upload
from pmm_pipeline.portal.uploads import FileTooLarge
from pmm_pipeline.portal.views.common import STATES, local_today, member_resource, pmm_settings


def _answers_with_notes(cycle_id: str, member: str):
    latest = intake.latest_answers(pmm_settings(), cycle_id, member)
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
    cycle_obj = member_resource(request, cycle, member)
    state, last_day = deadline(cycle_obj, local_today())
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
            "dagster_link": overview.runs_link(pmm_settings().ui_url, cycle, member) if role == "secretariat" else None,
            "has_profile": intake.profile_page(pmm_settings(), cycle, member, request.LANGUAGE_CODE) is not None,
        },
    )


@login_required
@require_GET
def questionnaire(request, cycle, member):
    member_resource(request, cycle, member)
    lang = request.LANGUAGE_CODE
    data = intake.questionnaire(pmm_settings(), cycle, member, lang)
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
    member_resource(request, cycle, member)
    page = intake.profile_page(pmm_settings(), cycle, member, request.LANGUAGE_CODE)
    if page is None:
        raise Http404()
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PROFILE_POLICY  # django-csp keeps a policy the view has set
    return response


@login_required
@require_POST
def upload(request, cycle, member):
    member_resource(request, cycle, member, access.SUBMIT)
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
            _("The file is larger than the limit of %(limit)s bytes.")
            % {"limit": pmm_settings().intake_limits.max_file_bytes},
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
    cycle_obj = member_resource(request, cycle, member)
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
    cycle_obj = member_resource(request, cycle, member, action)
    kpis = intake.kpis_of(pmm_settings(), cycle, request.LANGUAGE_CODE)
    current = intake.current_choices(pmm_settings(), cycle, member)
    form = DisclosureForm(request.POST or None, kpis=kpis, current=current)
    if request.method == "POST" and form.is_valid():
        choices = {k: form.cleaned_data[k] or current.get(k, "secretariat") for k, _name in kpis}
        changed = {k: v for k, v in choices.items() if v != current.get(k, "secretariat")}
        if not changed:
            messages.info(request, _("No choice was changed."))
            return redirect("portal:disclosure", cycle=cycle, member=member)
        try:
            name, data = intake.disclosure_document(pmm_settings(), cycle, member, choices, timezone.now())
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
    member_resource(request, cycle, member, access.NOTE)
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
