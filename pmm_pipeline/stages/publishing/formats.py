"""A tier's published tables in the readers' formats: Excel (en/fr/es) and JSON, and reading each back (SDMX: sdmx.py).

Every writer takes the tier's own tables (publish_<tier>.kpi_values and rollups, already audited),
never internal ones, and every format has a reader giving back the contract's frames, so the release
guard audits what readers actually get. Values stay unrounded numbers in every format: Excel number
formats round the display only. Nothing time-dependent is written, so a re-run gives the same bytes.
"""

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text, undo_neutralization
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

TABLE_COLUMNS = {"kpi_values": PUBLISHED_KPI_COLUMNS, "rollups": PUBLISHED_ROLLUP_COLUMNS}
INTEGER_COLUMNS = {"reporting_year", "n_reporting", "n_participating"}
NUMBER_COLUMNS = {"value", "mean", "median", "min", "max", "pooled"}
BOOLEAN_COLUMNS = {"suppressed"}


@dataclass(frozen=True)
class KpiLabels:
    """What the readers' formats say about a KPI beside its id: its name per language and its unit."""

    names: Mapping[str, str]  # language -> name
    unit: str


@dataclass(frozen=True)
class ReaderNames:
    """Names the workbooks write beside the codes, in each language: members, groups, withholding reasons."""

    members: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # member -> language -> name
    groups: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)  # (type, code) -> lang -> name
    reasons: Callable[[str, str], str] | None = None  # (suppression_reason, language) -> the reasons in words


# Column headers, sheet names and explanations in the three questionnaire languages.
HEADERS = {
    "en": {
        "cycle": "Cycle",
        "reporting_year": "Reporting year",
        "member_code": "Member",
        "member_name": "Member name",
        "group_name": "Group name",
        "reason_text": "Why withheld, in words",
        "kpi_id": "KPI code",
        "kpi_name": "KPI",
        "series": "Series",
        "value": "Value",
        "unit": "Unit",
        "status": "Status code",
        "status_label": "Status",
        "disclosure": "Disclosure",
        "flags": "Quality flags",
        "group_type": "Group type",
        "group_code": "Group",
        "n_reporting": "Members reporting (n)",
        "n_participating": "Members participating (N)",
        "mean": "Mean",
        "median": "Median",
        "min": "Minimum",
        "max": "Maximum",
        "pooled": "Pooled ratio",
        "suppressed": "Withheld",
        "suppression_reason": "Why withheld",
    },
    "fr": {
        "cycle": "Cycle",
        "reporting_year": "Année de référence",
        "member_code": "Membre",
        "member_name": "Nom du membre",
        "group_name": "Nom du groupe",
        "reason_text": "Motif du masquage, en clair",
        "kpi_id": "Code de l'ICP",
        "kpi_name": "ICP",
        "series": "Série",
        "value": "Valeur",
        "unit": "Unité",
        "status": "Code de statut",
        "status_label": "Statut",
        "disclosure": "Diffusion",
        "flags": "Alertes de qualité",
        "group_type": "Type de groupe",
        "group_code": "Groupe",
        "n_reporting": "Membres ayant répondu (n)",
        "n_participating": "Membres participants (N)",
        "mean": "Moyenne",
        "median": "Médiane",
        "min": "Minimum",
        "max": "Maximum",
        "pooled": "Ratio agrégé",
        "suppressed": "Masqué",
        "suppression_reason": "Motif du masquage",
    },
    "es": {
        "cycle": "Ciclo",
        "reporting_year": "Año de referencia",
        "member_code": "Miembro",
        "member_name": "Nombre del miembro",
        "group_name": "Nombre del grupo",
        "reason_text": "Motivo, explicado",
        "kpi_id": "Código del ICD",
        "kpi_name": "ICD",
        "series": "Serie",
        "value": "Valor",
        "unit": "Unidad",
        "status": "Código de estado",
        "status_label": "Estado",
        "disclosure": "Difusión",
        "flags": "Alertas de calidad",
        "group_type": "Tipo de grupo",
        "group_code": "Grupo",
        "n_reporting": "Miembros que respondieron (n)",
        "n_participating": "Miembros participantes (N)",
        "mean": "Media",
        "median": "Mediana",
        "min": "Mínimo",
        "max": "Máximo",
        "pooled": "Ratio agregado",
        "suppressed": "Ocultado",
        "suppression_reason": "Motivo",
    },
}
SHEETS = {
    "en": {"about": "About", "kpi_values": "KPI values", "rollups": "Group statistics"},
    "fr": {"about": "À propos", "kpi_values": "Valeurs des ICP", "rollups": "Statistiques par groupe"},
    "es": {"about": "Acerca de", "kpi_values": "Valores de los ICD", "rollups": "Estadísticas por grupo"},
}
STATUS_LABELS = {
    "en": {
        "reported": "reported",
        "not_applicable": "not applicable (the member declined the KPI)",
        "missing": "missing (not answered or not available)",
        "undefined": "undefined (zero denominator)",
    },
    "fr": {
        "reported": "déclaré",
        "not_applicable": "sans objet (le membre a décliné l'ICP)",
        "missing": "manquant (sans réponse ou non disponible)",
        "undefined": "indéfini (dénominateur nul)",
    },
    "es": {
        "reported": "declarado",
        "not_applicable": "no aplicable (el miembro declinó el ICD)",
        "missing": "faltante (sin respuesta o no disponible)",
        "undefined": "indefinido (denominador cero)",
    },
}
ABOUT = {
    "en": [
        "WCO Performance Measurement Mechanism: published results of cycle {cycle}, {tier} tier.",
        "Values are unrounded numbers; the cells' number format only rounds what is displayed.",
        "Units: each KPI's unit is in the Unit column (% is a percentage, 0 to 100).",
        "A value is empty unless its status is reported. Statuses:",
        "Group statistics are over the members that reported (n of N participating). An empty statistic with"
        " Withheld = TRUE was withheld by disclosure control; Why withheld lists statistic:reason"
        " (min_group_size: too few members; hidden_member: it would show a value hidden from this tier;"
        " differencing and complementary: with other published figures it would reveal one;"
        " earlier_release: with the figures of earlier releases it would reveal one; not_finite: too large to be"
        " represented).",
    ],
    "fr": [
        "Mécanisme de mesure de la performance de l'OMD : résultats publiés du cycle {cycle}, niveau {tier}.",
        "Les valeurs sont des nombres non arrondis ; le format des cellules n'arrondit que l'affichage.",
        "Unités : l'unité de chaque ICP figure dans la colonne Unité (% : pourcentage, de 0 à 100).",
        "Une valeur est vide sauf si son statut est déclaré. Statuts :",
        "Les statistiques de groupe portent sur les membres ayant répondu (n sur N participants). Une statistique"
        " vide avec Masqué = VRAI a été masquée par le contrôle de la diffusion ; Motif du masquage donne"
        " statistique:motif (min_group_size : trop peu de membres ; hidden_member : elle montrerait une valeur"
        " cachée à ce niveau ; differencing et complementary : avec d'autres chiffres publiés elle en révélerait une ;"
        " earlier_release : avec les chiffres des publications antérieures elle en révélerait une ; not_finite :"
        " trop grande pour être représentée).",
    ],
    "es": [
        "Mecanismo de Medición del Desempeño de la OMA: resultados publicados del ciclo {cycle}, nivel {tier}.",
        "Los valores son números sin redondear; el formato de las celdas solo redondea lo que se muestra.",
        "Unidades: la unidad de cada ICD está en la columna Unidad (% es un porcentaje, de 0 a 100).",
        "Un valor está vacío salvo si su estado es declarado. Estados:",
        "Las estadísticas de grupo se calculan sobre los miembros que respondieron (n de N participantes). Una"
        " estadística vacía con Ocultado = VERDADERO fue ocultada por el control de divulgación; Motivo da"
        " estadística:motivo (min_group_size: muy pocos miembros; hidden_member: mostraría un valor oculto en este"
        " nivel; differencing y complementary: con otras cifras publicadas revelaría uno;"
        " earlier_release: con las cifras de publicaciones anteriores revelaría uno; not_finite: demasiado grande"
        " para representarse).",
    ],
}
DISPLAY_FORMAT = "#,##0.0"
# xlsxwriter stamps docProps/core.xml with the creation time unless told; a fixed date keeps bytes stable.
FIXED_CREATED = dt.datetime(2000, 1, 1)


def excel_name(lang: str) -> str:
    return f"tables_{lang}.xlsx"


EXCEL_COLUMNS = {
    "kpi_values": [
        "cycle",
        "reporting_year",
        "member_code",
        "kpi_id",
        "kpi_name",
        "series",
        "value",
        "unit",
        "status",
        "status_label",
        "disclosure",
        "flags",
        # Names beside the codes come last: programs that read the sheets by position keep their columns.
        "member_name",
    ],
    "rollups": [
        "cycle",
        "kpi_id",
        "kpi_name",
        "series",
        "unit",
        "group_type",
        "group_code",
        "n_reporting",
        "n_participating",
        "mean",
        "median",
        "min",
        "max",
        "pooled",
        "suppressed",
        "suppression_reason",
        "group_name",
        "reason_text",
    ],
}


def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def write_excel(
    tables: Mapping[str, pd.DataFrame],
    path: Path,
    lang: str,
    cycle: str,
    tier: str,
    kpis: Mapping[str, KpiLabels],
    names: ReaderNames | None = None,
) -> None:
    """One workbook in `lang`: an About sheet (units, statuses, withheld figures) and one sheet per table, with the
    names of KPIs, statuses, members, groups and withholding reasons in `lang` beside their codes."""
    names = names or ReaderNames()
    import xlsxwriter  # a writer library only needed when releasing

    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    workbook.set_properties({"created": FIXED_CREATED, "title": f"PMM {cycle} ({tier})", "author": "WCO PMM"})
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7"})
    number = workbook.add_format({"num_format": DISPLAY_FORMAT})
    about = workbook.add_worksheet(SHEETS[lang]["about"])
    about.set_column(0, 0, 110)
    lines = [line.format(cycle=cycle, tier=tier) for line in ABOUT[lang]]
    row = 0
    for i, line in enumerate(lines):
        about.write_string(row, 0, line)
        row += 1
        if i == 3:  # the line announcing the statuses
            for code, label in STATUS_LABELS[lang].items():
                about.write_string(row, 0, f"  {code}: {label}")
                row += 1
    for name in ("kpi_values", "rollups"):
        frame = tables[name]
        columns = EXCEL_COLUMNS[name]
        sheet = workbook.add_worksheet(SHEETS[lang][name])
        for c, column in enumerate(columns):
            sheet.write_string(0, c, HEADERS[lang][column], header)
            wide = ("kpi_name", "status_label", "suppression_reason", "member_name", "group_name", "reason_text")
            sheet.set_column(c, c, 32 if column in wide else 14)
        sheet.freeze_panes(1, 0)
        for r, record in enumerate(frame.to_dict("records"), start=1):
            labels = kpis.get(record["kpi_id"])
            record["kpi_name"] = labels.names[lang] if labels else ""
            record["unit"] = labels.unit if labels else ""
            if "status" in record:
                record["status_label"] = STATUS_LABELS[lang].get(record["status"], record["status"])
            if "member_code" in record:
                record["member_name"] = names.members.get(record["member_code"], {}).get(lang)
            if "group_code" in record:
                group = names.groups.get((record["group_type"], record["group_code"]), {})
                record["group_name"] = group.get(lang)
                reason = record["suppression_reason"]
                record["reason_text"] = names.reasons(reason, lang) if names.reasons and not _is_null(reason) else None
            for c, column in enumerate(columns):
                value = record[column]
                if _is_null(value):
                    continue
                if column in BOOLEAN_COLUMNS:
                    sheet.write_boolean(r, c, bool(value))
                elif column in NUMBER_COLUMNS or column in INTEGER_COLUMNS:
                    sheet.write_number(r, c, float(value), number if column in NUMBER_COLUMNS else None)
                else:
                    sheet.write_string(r, c, str(neutralize_spreadsheet_text(str(value))))
        sheet.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)
    workbook.close()


def read_excel(path: Path) -> dict[str, pd.DataFrame]:
    """The contract's tables from a workbook written by write_excel, whatever its language."""
    from openpyxl import load_workbook

    lang = next((lg for lg in LANGUAGES if path.name == excel_name(lg)), None)
    if lang is None:
        raise ValueError(f"{path.name} is not a workbook of the release (tables_<en|fr|es>.xlsx)")
    by_header = {label: column for column, label in HEADERS[lang].items()}
    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        frames = {}
        expected = {SHEETS[lang][t]: t for t in TABLE_COLUMNS}
        extra = set(workbook.sheetnames) - set(expected) - {SHEETS[lang]["about"]}
        if extra:
            raise ValueError(f"sheets the audit does not know: {sorted(extra)}")
        for sheet_name, table in expected.items():
            rows = list(workbook[sheet_name].iter_rows(values_only=True))
            columns = [by_header.get(h) for h in rows[0]]
            if None in columns:
                raise ValueError(
                    f"sheet {sheet_name!r}: unknown header(s) {[h for h in rows[0] if h not in by_header]}"
                )
            frame = pd.DataFrame([list(r) for r in rows[1:]], columns=columns)
            for column in frame.columns:
                if column not in NUMBER_COLUMNS | INTEGER_COLUMNS | BOOLEAN_COLUMNS:
                    frame[column] = frame[column].map(_unescape_excel_text).map(undo_neutralization)
            frames[table] = typed_table(frame[TABLE_COLUMNS[table]])
        return frames
    finally:
        workbook.close()


def _exact_number(value: object) -> object:
    """Number text as the double it spells (pandas' own text-to-number parsing can be off in the last bit)."""
    if isinstance(value, str):
        return None if not value.strip() else float(value)
    return value


# Only control characters: xlsxwriter stores them as `_x000D_` and so on, which openpyxl hands back as
# stored; a literal `_xHHHH_` is stored as `_x005F_xHHHH_`, which openpyxl already turns back into the text.
_EXCEL_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f])_")


def _unescape_excel_text(value: object) -> object:
    """Text as written: a control character (a carriage return, ...) back from its `_xHHHH_` escape."""
    if isinstance(value, str) and "_x" in value:
        return _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def typed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes: numbers as float64 (NULL as NaN), whole numbers as Int64, flags and text as text."""
    frame = frame.copy()
    for column in frame.columns:
        if column in NUMBER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column].map(_exact_number), errors="raise").astype("float64")
        elif column in INTEGER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype("Int64")
        elif column in BOOLEAN_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].map(lambda v: None if _is_null(v) else str(v)).astype(object)
    if "flags" in frame.columns:  # empty text and an empty cell are the same "no flags"
        frame["flags"] = frame["flags"].fillna("")
    return frame


def json_ready(value: object) -> object:
    """A cell as plain JSON, comparable across readers: NULL and NaN are None, numpy scalars Python values."""
    if _is_null(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_json(frame: pd.DataFrame, path: Path, table: str) -> None:
    """`{"table": ..., "columns": [...], "rows": [{...}, ...]}`; NULL is null, doubles keep every digit."""
    rows = [{c: json_ready(v) for c, v in record.items()} for record in frame[TABLE_COLUMNS[table]].to_dict("records")]
    document = {
        "format": "pmm-release-table",
        "format_version": 1,
        "table": table,
        "columns": TABLE_COLUMNS[table],
        "rows": rows,
    }
    path.write_text(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1) + "\n", encoding="utf-8")


def read_json(path: Path) -> tuple[str, pd.DataFrame]:
    document = json.loads(path.read_text(encoding="utf-8"))
    table = document["table"]
    if document.get("format") != "pmm-release-table" or table not in TABLE_COLUMNS:
        raise ValueError("not a pmm-release-table JSON document")
    if document["columns"] != TABLE_COLUMNS[table]:
        raise ValueError(f"columns {document['columns']} are not the contract's")
    frame = pd.DataFrame(document["rows"], columns=TABLE_COLUMNS[table])
    return table, typed_table(frame)
