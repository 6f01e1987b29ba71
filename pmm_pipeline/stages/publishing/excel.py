"""A tier's published tables as Excel workbooks in en/fr/es, and reading them back for the release audit.

Written with xlsxwriter row by row from columns prepared once per sheet (the cells and their XML are
those xlsxwriter always wrote, so the bytes are unchanged); read back with python-calamine, whose values
are exact (doubles to the bit as the file spells them, control characters from their `_xHHHH_` escapes);
the one thing it cannot tell, an empty text cell from an empty cell, is read from the sheet's XML.
"""

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text, undo_neutralization
from pmm_pipeline.stages.publishing.formats import (
    BOOLEAN_COLUMNS,
    FIXED_CREATED,
    INTEGER_COLUMNS,
    NUMBER_COLUMNS,
    STATUS_LABELS,
    TABLE_COLUMNS,
    KpiLabels,
    ReaderNames,
    is_null,
    typed_table,
)

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
# xlsxwriter writes a number cell with 16 significant digits (as Excel keeps them): the audit holds a workbook's
# numbers to the double those digits spell.
SIGNIFICANT_DIGITS = 16


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


WIDE_COLUMNS = ("kpi_name", "status_label", "suppression_reason", "member_name", "group_name", "reason_text")


def _sheet_columns(
    frame: pd.DataFrame, lang: str, kpis: Mapping[str, KpiLabels], names: ReaderNames
) -> dict[str, list[object]]:
    """Each column a workbook sheet shows, as a list of cells (None: left empty), the names in `lang` beside codes."""
    columns: dict[str, list[object]] = {c: frame[c].tolist() for c in frame.columns}
    columns["kpi_name"] = [kpis[k].names[lang] if k in kpis else "" for k in columns["kpi_id"]]
    columns["unit"] = [kpis[k].unit if k in kpis else "" for k in columns["kpi_id"]]
    if "status" in columns:
        labels = STATUS_LABELS[lang]
        columns["status_label"] = [labels.get(s, s) if not is_null(s) else s for s in columns["status"]]
    if "member_code" in columns:
        columns["member_name"] = [names.members.get(m, {}).get(lang) for m in columns["member_code"]]
    if "group_code" in columns:
        pairs = zip(columns["group_type"], columns["group_code"], strict=True)
        columns["group_name"] = [names.groups.get(pair, {}).get(lang) for pair in pairs]
        reasons = names.reasons
        columns["reason_text"] = [
            reasons(r, lang) if reasons and not is_null(r) else None for r in columns["suppression_reason"]
        ]
    return columns


def _cells(column: str, values: list[object]) -> list[object]:
    """A column's cells as written: None for an empty cell, booleans, numbers as doubles, text neutralized."""
    if column in BOOLEAN_COLUMNS:
        return [None if is_null(v) else bool(v) for v in values]
    if column in NUMBER_COLUMNS or column in INTEGER_COLUMNS:
        return [None if is_null(v) else float(v) for v in values]
    # Text repeats (codes, names, labels): neutralized once per distinct value.
    written: dict[object, str] = {}
    cells: list[object] = []
    for v in values:
        if is_null(v):
            cells.append(None)
            continue
        text = written.get(v)
        if text is None:
            text = written[v] = str(neutralize_spreadsheet_text(str(v)))
        cells.append(text)
    return cells


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
            sheet.set_column(c, c, 32 if column in WIDE_COLUMNS else 14)
        sheet.freeze_panes(1, 0)
        prepared = _sheet_columns(frame, lang, kpis, names)
        # Per column: its cells and the undecorated xlsxwriter call that stores one (the public write_* only add
        # argument conversion), in the order write_* were always called: shared strings keep their indices.
        writers = []
        for c, column in enumerate(columns):
            if column in BOOLEAN_COLUMNS:
                store, cell_format = sheet._write_boolean, None
            elif column in NUMBER_COLUMNS or column in INTEGER_COLUMNS:
                store, cell_format = sheet._write_number, number if column in NUMBER_COLUMNS else None
            else:
                store, cell_format = sheet._write_string, None
            writers.append((c, _cells(column, prepared[column]), store, cell_format))
        for r in range(len(frame)):
            for c, cells, store, cell_format in writers:
                value = cells[r]
                if value is not None:
                    store(r + 1, c, value, cell_format)
        sheet.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)
    workbook.close()


def read_excel(path: Path) -> dict[str, pd.DataFrame]:
    """The contract's tables from a workbook written by write_excel, whatever its language."""
    from python_calamine import CalamineWorkbook

    lang = next((lg for lg in LANGUAGES if path.name == excel_name(lg)), None)
    if lang is None:
        raise ValueError(f"{path.name} is not a workbook of the release (tables_<en|fr|es>.xlsx)")
    by_header = {label: column for column, label in HEADERS[lang].items()}
    workbook = CalamineWorkbook.from_path(str(path))
    try:
        frames = {}
        expected = {SHEETS[lang][t]: t for t in TABLE_COLUMNS}
        extra = set(workbook.sheet_names) - set(expected) - {SHEETS[lang]["about"]}
        if extra:
            raise ValueError(f"sheets the audit does not know: {sorted(extra)}")
        empty_text = _empty_text_cells(path)
        for sheet_name, table in expected.items():
            rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
            columns = [by_header.get(h) for h in rows[0]]
            if None in columns:
                raise ValueError(
                    f"sheet {sheet_name!r}: unknown header(s) {[h for h in rows[0] if h not in by_header]}"
                )
            # The rows start at A1 (skip_empty_area=False). calamine gives "" for an empty cell as for an empty
            # text: only the cells the sheet's XML says hold a text keep it.
            keep = empty_text.get(sheet_name, set())
            body = [
                [v if v != "" or (r, c) in keep else None for c, v in enumerate(row)]
                for r, row in enumerate(rows[1:], start=1)
            ]
            frame = pd.DataFrame(body, columns=columns)
            for column in frame.columns:
                if column not in NUMBER_COLUMNS | INTEGER_COLUMNS | BOOLEAN_COLUMNS:
                    frame[column] = frame[column].map(undo_neutralization)
            frames[table] = typed_table(frame[TABLE_COLUMNS[table]])
        return frames
    finally:
        workbook.close()


_CELL_REFERENCE = re.compile(r"([A-Z]+)([0-9]+)")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_SHARED_TEXT = re.compile(r"<si>(.*?)</si>", re.S)
_TAG = re.compile(r"<[^>]*>")


def _empty_text_cells(path: Path) -> dict[str, set[tuple[int, int]]]:
    """Per sheet name, the (row, column) of every cell holding an empty shared text (0-based).

    A scan of the sheets' XML for the empty texts' indices alone: parsing whole sheets would cost what
    calamine saves. Cells it does not recognise read as empty, which the audit takes as the same thing.
    """
    with zipfile.ZipFile(path) as archive:
        if "xl/sharedStrings.xml" not in archive.namelist():
            return {}
        strings = archive.read("xl/sharedStrings.xml").decode("utf-8")
        empty = [str(i) for i, m in enumerate(_SHARED_TEXT.finditer(strings)) if not _TAG.sub("", m.group(1))]
        if not empty:
            return {}
        cell = re.compile(r'<c r="([A-Z]+[0-9]+)"[^>]*? t="s"[^>]*><v>(?:' + "|".join(empty) + r")</v>")
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "").lstrip("/") for r in relations}
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        found: dict[str, set[tuple[int, int]]] = {}
        for sheet in book.iter(f"{_MAIN}sheet"):
            target = targets.get(sheet.get(_RELATIONSHIP), "")
            part = target if target.startswith("xl/") else f"xl/{target}"
            xml = archive.read(part).decode("utf-8")
            found[sheet.get("name", "")] = {_cell_position(m.group(1)) for m in cell.finditer(xml)}
        return found


def _cell_position(reference: str) -> tuple[int, int]:
    letters, digits = _CELL_REFERENCE.fullmatch(reference).groups()
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(digits) - 1, column - 1
