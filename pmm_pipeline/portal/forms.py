"""The platform's forms: Django validates them and the templates render them escaped, with a CSRF token each."""

from django import forms
from django.utils.translation import gettext_lazy as _

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.portal.models import LANGUAGE_CHOICES, ROLE_CHOICES

TIER_LABELS = {
    "public": _("public: on the public site"),
    "wco": _("WCO: NCPs and peer reviewers of WCO Members"),
    "secretariat": _("Secretariat only"),
}


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Questionnaire, JSON or CSV file"), allow_empty_file=True)


class DisclosureForm(forms.Form):
    def __init__(self, *args, kpis: list[tuple[str, str]], current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for kpi_id, name in kpis:
            self.fields[kpi_id] = forms.ChoiceField(
                label=name,
                choices=[(t, TIER_LABELS[t]) for t in TIERS],
                initial=current.get(kpi_id, "secretariat"),
                required=False,  # a KPI left out of the form keeps its current choice
            )


class NoteForm(forms.Form):
    answer = forms.ChoiceField(label=_("Answer"))
    text = forms.CharField(label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, answers: list[tuple[str, int]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["answer"].choices = [(f"{item}|{year}", f"{item} {year}") for item, year in answers]

    def item_year(self) -> tuple[str, int]:
        item, year = self.cleaned_data["answer"].split("|")
        return item, int(year)


class AccountForm(forms.Form):
    login = forms.RegexField(label=_("Login"), regex=r"^[A-Za-z0-9._@+-]{2,150}$", max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)
    member = forms.CharField(label=_("Member (NCP only)"), max_length=3, required=False)
    lang = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(render_value=False), max_length=200)


class AssignForm(forms.Form):
    member = forms.CharField(label=_("Member"), max_length=3)
