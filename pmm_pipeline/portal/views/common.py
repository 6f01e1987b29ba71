"""What the platform's pages share: the context every template gets, today in the cycles' calendar, the cycle or member
a URL names (404 or 403 when it may not be shown), and the list of cycles on a home page.
"""

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext_lazy

from pmm_pipeline.portal import access, intake
from pmm_pipeline.portal.display import deadline

STATES = {
    "not yet open": gettext_lazy("not yet open"),
    "open": gettext_lazy("open"),
    "reopened": gettext_lazy("reopened"),
    "closed": gettext_lazy("closed"),
}


def pmm_settings():
    return settings.PMM_SETTINGS


def common_context(request):
    """What the base template needs on every page: the role, the languages, the current path to come back to."""
    return {
        "role": access.role_of(request.user),
        "languages": settings.LANGUAGES,
        "current_lang": getattr(request, "LANGUAGE_CODE", "en"),
        "here": request.get_full_path(),
    }


def local_today() -> dt.date:
    return intake.specs(pmm_settings()).reference.cycles.local_day(dt.datetime.now(dt.UTC))


def cycle_or_404(cycle_id: str):
    cycle = intake.cycle_of(pmm_settings(), cycle_id)
    if cycle is None:
        raise Http404()
    return cycle


def member_resource(request, cycle_id: str, member: str, action: str = access.READ):
    """The cycle, once the account may act on the member's resources (404 or 403 otherwise)."""
    access.require(request.user, member, action)
    if not intake.member_known(pmm_settings(), member):
        raise Http404()
    return cycle_or_404(cycle_id)


def cycles_view(today):
    rows = []
    for cycle in sorted(
        intake.specs(pmm_settings()).reference.cycles.cycles, key=lambda c: c.collection.opens, reverse=True
    ):
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
