"""What a cycle's Excel questionnaire asks and how it is laid out: rows, sheets, words, and its stamp.

Shared by the template writer (template.py) and the ingestion's Excel reader, so that what is
written and what is read back cannot drift apart. The stamp in the hidden sheet carries the
template version, the member, the cycle, the language, a digest of what the cycle asks and a
checksum over all of them: an edited stamp (e.g. a questionnaire copied for another member) or a
questionnaire generated from an older catalogue is recognized on ingestion.
"""

import hashlib
import json
from dataclasses import dataclass

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.specs.reference.models import Cycle

TEMPLATE_FORMAT = "pmm-questionnaire"
TEMPLATE_VERSION = 1  # raise when the layout changes in a way an older reader would misread
META_SHEET = "_pmm"  # very hidden: the stamp (A:B) and the choice lists (D onward)

# Column keys of the answers and disclosure sheets, in their order in the template.
ANSWER_COLUMNS = ("item", "question", "unit", "year", "value", "status", "comment")
DISCLOSURE_COLUMNS = ("kpi", "name", "dimension", "disclosure")
STAMP_KEYS = (
    "format",
    "template_version",
    "member",
    "cycle",
    "language",
    "reporting_year",
    "questionnaire_digest",
    "cover_sheet",
    "answers_sheet",
    "disclosure_sheet",
)
COVER_FIELDS = ("submitted_at", "contact_name", "contact_role", "contact_email", "contact_phone")
COVER_KEY_PREFIX = "pmm:"  # in the cover sheet's hidden first column, naming the field of the row

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "sheet_cover": "Cover",
        "sheet_answers": "Answers",
        "sheet_disclosure": "Disclosure",
        "title": "WCO Performance Measurement Mechanism: self-assessment questionnaire",
        "member": "Member",
        "cycle": "Cycle",
        "year_t": "Reporting year (T)",
        "year_t1": "Previous year (T-1)",
        "language": "Language",
        "submitted_at": "Date of submission",
        "contact_name": "Contact person",
        "contact_role": "Function / unit",
        "contact_email": "E-mail",
        "contact_phone": "Telephone",
        "contact_heading": "National Contact Point",
        "instructions_heading": "How to fill in this questionnaire",
        "instructions": (
            "1. On the sheet 'Answers', type each figure in the yellow Value cell of its row, for the year shown."
            "\n2. If an item does not apply to your administration, choose 'Not applicable' as Status; if the"
            " figure exists but you cannot obtain it, choose 'Not available'. Leave Value empty in both cases."
            "\n3. Give whole figures without separators if you can; a decimal comma or point is accepted."
            "\n4. Use Comment to explain a figure, a break in series or a change of definition."
            "\n5. On the sheet 'Disclosure', choose for each KPI who may see your value."
            "\n6. Do not rename sheets or change the grey cells; save as .xlsx (not .xlsm) and send the file back."
        ),
        "item": "Item code",
        "question": "Question",
        "unit": "Unit",
        "year": "Year",
        "value": "Value",
        "status": "Status",
        "comment": "Comment",
        "kpi": "KPI",
        "name": "Name",
        "dimension": "Dimension",
        "disclosure": "Who may see your value",
        "disclosure_help": "Public: everyone. WCO: National Contact Points and peer reviewers of WCO Members."
        " Secretariat: the WCO Secretariat only (also when left empty).",
        "reported": "Reported",
        "not_applicable": "Not applicable",
        "not_available": "Not available",
        "public": "Public",
        "wco": "WCO Members",
        "secretariat": "Secretariat only",
        "dimension_1": "Trade facilitation and economic competitiveness",
        "dimension_2": "Revenue collection",
        "dimension_3": "Enforcement, security and protection of society",
        "dimension_4": "Organizational development",
        "range_title": "Value",
        "range_any": "A number.",
        "range_from": "A number from {min}.",
        "range_between": "A number from {min} to {max}.",
        "whole": "A whole number from {min}.",
        "list_title": "Choose",
        "list_message": "Choose one answer from the list.",
        "error_title": "Not accepted",
        "error_range": "This value is outside the accepted range.",
        "error_list": "Choose one answer from the list.",
        "date_message": "The date you send the questionnaire (YYYY-MM-DD).",
    },
    "fr": {
        "sheet_cover": "Couverture",
        "sheet_answers": "Réponses",
        "sheet_disclosure": "Diffusion",
        "title": "Mécanisme de mesure de la performance de l'OMD : questionnaire d'auto-évaluation",
        "member": "Membre",
        "cycle": "Cycle",
        "year_t": "Année de référence (T)",
        "year_t1": "Année précédente (T-1)",
        "language": "Langue",
        "submitted_at": "Date d'envoi",
        "contact_name": "Personne de contact",
        "contact_role": "Fonction / service",
        "contact_email": "Courriel",
        "contact_phone": "Téléphone",
        "contact_heading": "Point de contact national",
        "instructions_heading": "Comment remplir ce questionnaire",
        "instructions": (
            "1. Dans la feuille « Réponses », saisissez chaque chiffre dans la cellule jaune Valeur de sa ligne,"
            " pour l'année indiquée."
            "\n2. Si un élément ne s'applique pas à votre administration, choisissez « Sans objet » comme Statut ;"
            " si le chiffre existe mais ne peut être obtenu, choisissez « Non disponible ». Laissez alors Valeur vide."
            "\n3. Donnez si possible des chiffres entiers sans séparateur ; la virgule ou le point décimal est accepté."
            "\n4. Utilisez Commentaire pour expliquer un chiffre, une rupture de série ou un changement de définition."
            "\n5. Dans la feuille « Diffusion », choisissez pour chaque indicateur qui peut voir votre valeur."
            "\n6. Ne renommez pas les feuilles et ne modifiez pas les cellules grises ; enregistrez au format .xlsx"
            " (pas .xlsm) et renvoyez le fichier."
        ),
        "item": "Code de l'élément",
        "question": "Question",
        "unit": "Unité",
        "year": "Année",
        "value": "Valeur",
        "status": "Statut",
        "comment": "Commentaire",
        "kpi": "Indicateur",
        "name": "Nom",
        "dimension": "Dimension",
        "disclosure": "Qui peut voir votre valeur",
        "disclosure_help": "Public : tout le monde. OMD : points de contact nationaux et évaluateurs des Membres de"
        " l'OMD. Secrétariat : le Secrétariat de l'OMD seulement (aussi si la case reste vide).",
        "reported": "Déclaré",
        "not_applicable": "Sans objet",
        "not_available": "Non disponible",
        "public": "Public",
        "wco": "Membres de l'OMD",
        "secretariat": "Secrétariat seulement",
        "dimension_1": "Facilitation des échanges et compétitivité économique",
        "dimension_2": "Perception des recettes",
        "dimension_3": "Lutte contre la fraude, sécurité et protection de la société",
        "dimension_4": "Développement organisationnel",
        "range_title": "Valeur",
        "range_any": "Un nombre.",
        "range_from": "Un nombre à partir de {min}.",
        "range_between": "Un nombre de {min} à {max}.",
        "whole": "Un nombre entier à partir de {min}.",
        "list_title": "Choisir",
        "list_message": "Choisissez une réponse dans la liste.",
        "error_title": "Non accepté",
        "error_range": "Cette valeur est hors de l'intervalle accepté.",
        "error_list": "Choisissez une réponse dans la liste.",
        "date_message": "La date d'envoi du questionnaire (AAAA-MM-JJ).",
    },
    "es": {
        "sheet_cover": "Portada",
        "sheet_answers": "Respuestas",
        "sheet_disclosure": "Divulgación",
        "title": "Mecanismo de Medición del Desempeño de la OMA: cuestionario de autoevaluación",
        "member": "Miembro",
        "cycle": "Ciclo",
        "year_t": "Año de referencia (T)",
        "year_t1": "Año anterior (T-1)",
        "language": "Idioma",
        "submitted_at": "Fecha de envío",
        "contact_name": "Persona de contacto",
        "contact_role": "Función / unidad",
        "contact_email": "Correo electrónico",
        "contact_phone": "Teléfono",
        "contact_heading": "Punto de contacto nacional",
        "instructions_heading": "Cómo completar este cuestionario",
        "instructions": (
            "1. En la hoja «Respuestas», escriba cada cifra en la celda amarilla Valor de su fila,"
            " para el año indicado."
            "\n2. Si un elemento no se aplica a su administración, elija «No aplicable» como Estado; si la cifra existe"
            " pero no puede obtenerse, elija «No disponible». En ambos casos deje Valor vacío."
            "\n3. Si es posible, indique cifras enteras sin separadores; se acepta la coma o el punto decimal."
            "\n4. Use Comentario para explicar una cifra, una ruptura de serie o un cambio de definición."
            "\n5. En la hoja «Divulgación», elija para cada indicador quién puede ver su valor."
            "\n6. No cambie el nombre de las hojas ni las celdas grises; guarde como .xlsx (no .xlsm)"
            " y devuelva el archivo."
        ),
        "item": "Código del elemento",
        "question": "Pregunta",
        "unit": "Unidad",
        "year": "Año",
        "value": "Valor",
        "status": "Estado",
        "comment": "Comentario",
        "kpi": "Indicador",
        "name": "Nombre",
        "dimension": "Dimensión",
        "disclosure": "Quién puede ver su valor",
        "disclosure_help": "Público: todos. OMA: puntos de contacto nacionales y evaluadores de los Miembros de la OMA."
        " Secretaría: solo la Secretaría de la OMA (también si se deja vacío).",
        "reported": "Declarado",
        "not_applicable": "No aplicable",
        "not_available": "No disponible",
        "public": "Público",
        "wco": "Miembros de la OMA",
        "secretariat": "Solo la Secretaría",
        "dimension_1": "Facilitación del comercio y competitividad económica",
        "dimension_2": "Recaudación",
        "dimension_3": "Aplicación de la ley, seguridad y protección de la sociedad",
        "dimension_4": "Desarrollo organizacional",
        "range_title": "Valor",
        "range_any": "Un número.",
        "range_from": "Un número a partir de {min}.",
        "range_between": "Un número de {min} a {max}.",
        "whole": "Un número entero a partir de {min}.",
        "list_title": "Elegir",
        "list_message": "Elija una respuesta de la lista.",
        "error_title": "No aceptado",
        "error_range": "Este valor está fuera del intervalo aceptado.",
        "error_list": "Elija una respuesta de la lista.",
        "date_message": "La fecha de envío del cuestionario (AAAA-MM-DD).",
    },
}
# Units of the catalogue in the other languages; a unit missing here is shown as the catalogue writes it.
UNITS: dict[str, dict[str, str]] = {
    "declarations": {"fr": "déclarations", "es": "declaraciones"},
    "operators": {"fr": "opérateurs", "es": "operadores"},
    "shipments": {"fr": "envois", "es": "envíos"},
    "requests": {"fr": "demandes", "es": "solicitudes"},
    "seizures": {"fr": "saisies", "es": "incautaciones"},
    "data elements": {"fr": "éléments de données", "es": "elementos de datos"},
    "controls": {"fr": "contrôles", "es": "controles"},
    "cases": {"fr": "affaires", "es": "casos"},
    "staff": {"fr": "agents", "es": "funcionarios"},
    "hours": {"fr": "heures", "es": "horas"},
    "level": {"fr": "niveau", "es": "nivel"},
    "yes/no": {"fr": "oui/non", "es": "sí/no"},
}


def unit_label(unit: str, lang: str) -> str:
    return UNITS.get(unit, {}).get(lang, unit)


def choice_label(code: str, lang: str) -> str:
    """A status or disclosure choice as listed in the questionnaire: translated, with its code kept visible."""
    return f"{TEXTS[lang][code]} [{code}]"


def read_choice(text: object, codes: tuple[str, ...]) -> object:
    """The code a typed or chosen choice means (its code, `Label [code]`, or the label in any language).

    Anything else is returned as typed, for validation to report.
    """
    if not isinstance(text, str):
        return text
    cleaned = text.strip()
    lowered = cleaned.casefold()
    for code in codes:
        labels = {code, f"[{code}]"} | {TEXTS[lang][code].casefold() for lang in LANGUAGES}
        if lowered in labels or lowered.endswith(f"[{code}]"):
            return code
    return cleaned


def header_aliases(key: str) -> set[str]:
    """What a column header may say for `key`: the key itself or its header in any language."""
    return {key} | {TEXTS[lang][key].casefold() for lang in LANGUAGES}


@dataclass(frozen=True)
class QuestionRow:
    """One row of the answers sheet: an item asked for one year."""

    item: Item
    year: int
    dimension: int


@dataclass(frozen=True)
class QuestionnairePlan:
    """What a cycle's questionnaire asks: its rows (items and years) and its KPIs."""

    cycle: Cycle
    rows: tuple[QuestionRow, ...]
    kpis: tuple[tuple[str, int, dict[str, str]], ...]  # (KPI id, dimension, names by language)

    @property
    def digest(self) -> str:
        """SHA-256 of what the questionnaire asks (not of its wording): an older one does not match."""
        content = {
            "cycle": self.cycle.id,
            "reporting_year": self.cycle.reporting_year,
            "rows": [[r.item.code, r.year] for r in self.rows],
            "items": {
                r.item.code: [
                    r.item.type.value,
                    r.item.unit,
                    r.item.min,
                    r.item.max,
                    [lv.code for lv in r.item.answer_levels],
                ]
                for r in self.rows
            },
            "kpis": [k for k, _, _ in self.kpis],
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def plan_questionnaire(catalogue: Catalogue, cycle: Cycle) -> QuestionnairePlan:
    """Rows in dimension and KPI order: each item at T, and at T-1 when a formula uses it at [T-1]."""
    t_minus_1, t = cycle.years
    kpis = sorted(catalogue.kpis_for_version(cycle.catalogue_version), key=lambda k: (k.dimension, k.id))
    needed_at_t_minus_1 = {
        ref.item
        for kpi in kpis
        for series in kpi.series
        for ref in catalogue.formulas[(kpi.id, series.id)].refs
        if ref.offset == -1
    }
    rows: list[QuestionRow] = []
    seen: set[str] = set()
    for kpi in kpis:
        for item in kpi.items:
            if item.code in seen:
                continue
            seen.add(item.code)
            rows.append(QuestionRow(catalogue.items[item.code], t, kpi.dimension))
            if item.code in needed_at_t_minus_1:
                rows.append(QuestionRow(catalogue.items[item.code], t_minus_1, kpi.dimension))
    names = tuple((k.id, k.dimension, {lang: k.names.in_language(lang) for lang in LANGUAGES}) for k in kpis)
    return QuestionnairePlan(cycle, tuple(rows), names)


def stamp_checksum(stamp: dict[str, str]) -> str:
    """SHA-256 over the stamp's fields; recomputed on ingestion to see whether the metadata was edited."""
    canonical = json.dumps({k: str(stamp.get(k, "")) for k in STAMP_KEYS}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_stamp(plan: QuestionnairePlan, member: str, lang: str) -> dict[str, str]:
    texts = TEXTS[lang]
    stamp = {
        "format": TEMPLATE_FORMAT,
        "template_version": str(TEMPLATE_VERSION),
        "member": member,
        "cycle": plan.cycle.id,
        "language": lang,
        "reporting_year": str(plan.cycle.reporting_year),
        "questionnaire_digest": plan.digest,
        "cover_sheet": texts["sheet_cover"],
        "answers_sheet": texts["sheet_answers"],
        "disclosure_sheet": texts["sheet_disclosure"],
    }
    stamp["checksum"] = stamp_checksum(stamp)
    return stamp
