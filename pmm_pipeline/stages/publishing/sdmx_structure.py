"""The SDMX structure beside a tier's SDMX-CSV files (`structure.xml`), and the check of the data against it.

An SDMX-ML 3.0 structure message, written by pysdmx's structure writer: the concepts, the code lists
(KPIs, series, members, groups, group types, statistics, cycles, statuses, disclosure tiers,
confidentiality and withholding reasons), a data structure definition per table and the dataflows
the SDMX-CSV rows name (sdmx.py). Codes come from the catalogue, the reference data and the shared
vocabulary; names are in English, French and Spanish (SDMX names are multilingual; pysdmx writes
English only, so the other languages are added to the message it wrote). The message carries no
time but the cycle's publication date, so a re-run writes the same bytes.

The release audit reads the message back and checks the data against it: sdmx_check.py.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pmm_pipeline.core.vocabulary import GROUP_TYPES, LANGUAGES, TIERS, VALUE_STATUSES
from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.specs.reference.models import Cycle, Group, Membership
from pmm_pipeline.stages.disclosure.decisions import REASONS
from pmm_pipeline.stages.disclosure.facts import LEVEL_COUNTS
from pmm_pipeline.stages.publishing.i18n import N_, translator
from pmm_pipeline.stages.publishing.report import (
    STATISTIC_NAMES,
    SUPPRESSION_RULES,
    Labeller,
    ReportContext,
)
from pmm_pipeline.stages.publishing.sdmx import (
    COMPONENTS,
    CONF_BY_DISCLOSURE,
    CONF_BY_REASON,
    OBS_STATUS,
    SDMX_AGENCY,
    SDMX_VERSION,
    STATISTICS,
    dataflow_id,
)

STRUCTURE_FILE = "structure.xml"
CONCEPT_SCHEME = "CS_PMM"
Names = Mapping[str, str]  # language -> name

# The SDMX cross-domain codes the files use (subsets of CL_OBS_STATUS and CL_CONF_STATUS), with their SDMX names.
OBS_STATUS_NAMES = {
    "A": N_("Normal value"),
    "M": N_("Missing value; data cannot exist"),
    "O": N_("Missing value"),
}
CONF_STATUS_NAMES = {
    "F": N_("Free"),
    "N": N_("Not for publication, restricted for internal use only"),
    "C": N_("Confidential statistical information"),
    "A": N_("Primary confidentiality due to small counts"),
    "S": N_("Secondary confidentiality set by the sender, not for publication"),
}
CONCEPT_NAMES = {
    "KPI": N_("Key performance indicator"),
    "SERIES": N_("Series of the KPI"),
    "REF_AREA": N_("Member, or group of members"),
    "GROUP_TYPE": N_("Group type"),
    "STATISTIC": N_("Statistic over the group"),
    "TIME_PERIOD": N_("Reporting year"),
    "OBS_VALUE": N_("Value"),
    "OBS_STATUS": N_("Observation status"),
    "CONF_STATUS": N_("Confidentiality status"),
    "PMM_CYCLE": N_("PMM cycle"),
    "PMM_STATUS": N_("Status of the value"),
    "PMM_DISCLOSURE": N_("Disclosure chosen by the member"),
    "PMM_FLAGS": N_("Quality warnings raised on the answers (their ids, separated by ;)"),
    "N_REPORTING": N_("Members reporting (n)"),
    "N_PARTICIPATING": N_("Members participating (N)"),
    "PMM_SUPPRESSED": N_("Withheld"),
    "PMM_SUPPRESSION_REASON": N_("Why withheld (statistic:reason, separated by ;)"),
}
CODELIST_NAMES = {
    "CL_PMM_KPI": N_("PMM key performance indicators"),
    "CL_PMM_SERIES": N_("Series of the KPIs (import, export, answer levels ...)"),
    "CL_PMM_MEMBER": N_("PMM members"),
    "CL_PMM_GROUP": N_("Groups of members (regions, income groups, landlocked, administration types)"),
    "CL_PMM_GROUP_TYPE": N_("Group types"),
    "CL_PMM_STATISTIC": N_("Statistics over a group"),
    "CL_PMM_CYCLE": N_("PMM cycles"),
    "CL_PMM_STATUS": N_("Statuses of a KPI value"),
    "CL_PMM_DISCLOSURE": N_("Disclosure tiers"),
    "CL_PMM_WITHHOLDING_REASON": N_("Why a statistic is withheld"),
    "CL_OBS_STATUS": N_("Observation status"),
    "CL_CONF_STATUS": N_("Confidentiality status"),
}
ARTEFACT_NAMES = {
    CONCEPT_SCHEME: N_("Concepts of the WCO Performance Measurement Mechanism"),
    "kpi_values": N_("PMM KPI values of the members"),
    "rollups": N_("PMM group statistics of the KPIs"),
}
CYCLE_NAME = N_("Cycle {cycle} (reporting year {year})")
# Components whose values are not codes: what they must look like.
INTEGER_COMPONENTS = ("N_REPORTING", "N_PARTICIPATING")
BOOLEAN_COMPONENTS = ("PMM_SUPPRESSED",)
REASON_COMPONENT = "PMM_SUPPRESSION_REASON"
WITHHOLDING_CODELIST = "CL_PMM_WITHHOLDING_REASON"


@dataclass(frozen=True)
class StructureInputs:
    """What the structure of a cycle's release is made of: the catalogue's KPIs and the reference data in force."""

    cycle: Cycle
    cycles: Sequence[Cycle]
    kpis: Sequence[KpiSpec]
    members: Mapping[str, Membership]
    groups: Sequence[Group]
    min_group_size: int


def _in_languages(message: str, **values: object) -> dict[str, str]:
    return {lang: translator(lang)(message).format(**values) for lang in LANGUAGES}


def codelists(inputs: StructureInputs) -> dict[str, dict[str, dict[str, str]]]:
    """Code list id -> code -> language -> name, every code from the catalogue, reference data or vocabulary."""
    group_names = {
        (str(g.group_type), g.group_code): {lang: getattr(g, f"name_{lang}") for lang in LANGUAGES}
        for g in inputs.groups
    }
    labels = {
        lang: Labeller(ReportContext("", 0, "", inputs.kpis, group_names, inputs.min_group_size, None, lang))
        for lang in LANGUAGES
    }

    def named(codes, name_of) -> dict[str, dict[str, str]]:
        return {code: {lang: name_of(labels[lang], code) for lang in LANGUAGES} for code in codes}

    series: dict[str, dict[str, str]] = {}
    for kpi in sorted(inputs.kpis, key=lambda k: k.id):
        ids = [s.id for s in kpi.series] + [lv.code for item in kpi.items for lv in item.answer_levels]
        for sid in ids:  # the first KPI (by id) naming a series or level names it
            series.setdefault(sid, {lang: labels[lang].series(kpi, sid) for lang in LANGUAGES})
    groups: dict[str, dict[str, str]] = {}
    for g in inputs.groups:
        if g.group_code in groups:  # REF_AREA of the rollups holds group codes alone: they must not repeat
            raise ValueError(f"group code {g.group_code!r} is used by more than one group type")
        groups[g.group_code] = {lang: labels[lang].group(str(g.group_type), g.group_code) for lang in LANGUAGES}
    reasons = {r: _in_languages(SUPPRESSION_RULES[r], min_group_size=inputs.min_group_size) for r in REASONS}
    return {
        "CL_PMM_KPI": {k.id: {lang: k.names.in_language(lang) for lang in LANGUAGES} for k in inputs.kpis},
        "CL_PMM_SERIES": series,
        "CL_PMM_MEMBER": {code: {lang: m.name(lang) for lang in LANGUAGES} for code, m in inputs.members.items()},
        "CL_PMM_GROUP": groups,
        "CL_PMM_GROUP_TYPE": named(GROUP_TYPES, lambda label, code: label.group_type(code)),
        "CL_PMM_STATISTIC": {s.upper(): _in_languages(STATISTIC_NAMES[s]) for s in STATISTICS},
        "CL_PMM_CYCLE": {c.id: _in_languages(CYCLE_NAME, cycle=c.id, year=c.reporting_year) for c in inputs.cycles},
        "CL_PMM_STATUS": named(VALUE_STATUSES, lambda label, code: label.status(code)),
        "CL_PMM_DISCLOSURE": named(TIERS, lambda label, code: label.tier(code)),
        WITHHOLDING_CODELIST: reasons,
        "CL_OBS_STATUS": {c: _in_languages(OBS_STATUS_NAMES[c]) for c in sorted(set(OBS_STATUS.values()))},
        "CL_CONF_STATUS": {
            c: _in_languages(CONF_STATUS_NAMES[c])
            for c in sorted(set(CONF_BY_DISCLOSURE.values()) | set(CONF_BY_REASON.values()))
        },
    }


def reason_pattern(reasons: Sequence[str]) -> str:
    """What PMM_SUPPRESSION_REASON holds: statistic:reason entries separated by `;`, reasons from their code list."""
    statistics = "|".join((*STATISTICS, LEVEL_COUNTS))
    entry = f"({statistics}):({'|'.join(reasons)})"
    return f"{entry}(;{entry})*"


def _maintainable_names(codes: Mapping[str, Mapping[str, Mapping[str, str]]]) -> dict[tuple[str, str], Names]:
    """(element, id) of every maintainable artefact, or (scheme id, item id) of every item -> its names."""
    names: dict[tuple[str, str], Names] = {("Codelist", cl): _in_languages(CODELIST_NAMES[cl]) for cl in codes}
    for cl, items in codes.items():
        names |= {(cl, code): item for code, item in items.items()}
    names[("ConceptScheme", CONCEPT_SCHEME)] = _in_languages(ARTEFACT_NAMES[CONCEPT_SCHEME])
    names |= {(CONCEPT_SCHEME, cid): _in_languages(text) for cid, text in CONCEPT_NAMES.items()}
    for table in COMPONENTS:
        names[("DataStructure", f"DSD_{dataflow_id(table)}")] = _in_languages(ARTEFACT_NAMES[table])
        names[("Dataflow", dataflow_id(table))] = _in_languages(ARTEFACT_NAMES[table])
    return names


def build_structure(inputs: StructureInputs) -> tuple[list, dict[tuple[str, str], Names]]:
    """The pysdmx artefacts of the message (English names) and every artefact's names in each language."""
    from pysdmx.model import (
        Code,
        Codelist,
        Component,
        Components,
        Concept,
        ConceptScheme,
        Dataflow,
        DataStructureDefinition,
        DataType,
        Facets,
        ItemReference,
        Role,
    )

    codes = codelists(inputs)
    names = _maintainable_names(codes)
    lists = {
        cl: Codelist(
            id=cl,
            agency=SDMX_AGENCY,
            version=SDMX_VERSION,
            name=names[("Codelist", cl)]["en"],
            items=[Code(id=code, name=item["en"]) for code, item in sorted(items.items())],
        )
        for cl, items in codes.items()
    }
    concepts = ConceptScheme(
        id=CONCEPT_SCHEME,
        agency=SDMX_AGENCY,
        version=SDMX_VERSION,
        name=names[("ConceptScheme", CONCEPT_SCHEME)]["en"],
        items=[Concept(id=cid, name=names[(CONCEPT_SCHEME, cid)]["en"]) for cid in CONCEPT_NAMES],
    )
    roles = {"dimension": Role.DIMENSION, "measure": Role.MEASURE, "attribute": Role.ATTRIBUTE}

    def representation(cid: str) -> dict:
        if cid == "TIME_PERIOD":
            return {"local_dtype": DataType.PERIOD}
        if cid == "OBS_VALUE":
            return {"local_dtype": DataType.DOUBLE}
        if cid in INTEGER_COMPONENTS:
            return {"local_dtype": DataType.INTEGER}
        if cid in BOOLEAN_COMPONENTS:
            return {"local_dtype": DataType.BOOLEAN}
        if cid == REASON_COMPONENT:
            pattern = reason_pattern(sorted(codes[WITHHOLDING_CODELIST]))
            return {"local_dtype": DataType.STRING, "local_facets": Facets(pattern=pattern)}
        return {"local_dtype": DataType.STRING}

    artefacts: list = [*lists.values(), concepts]
    for table, components in COMPONENTS.items():
        dsd = DataStructureDefinition(
            id=f"DSD_{dataflow_id(table)}",
            agency=SDMX_AGENCY,
            version=SDMX_VERSION,
            name=names[("DataStructure", f"DSD_{dataflow_id(table)}")]["en"],
            components=Components(
                [
                    Component(
                        id=c.id,
                        required=c.required,
                        role=roles[c.role],
                        concept=ItemReference(
                            sdmx_type="Concept",
                            agency=SDMX_AGENCY,
                            id=CONCEPT_SCHEME,
                            version=SDMX_VERSION,
                            item_id=c.id,
                        ),
                        attachment_level="O" if c.role == "attribute" else None,
                        **({"local_codes": lists[c.codelist]} if c.codelist else representation(c.id)),
                    )
                    for c in components
                ]
            ),
        )
        flow = Dataflow(
            id=dataflow_id(table),
            agency=SDMX_AGENCY,
            version=SDMX_VERSION,
            name=names[("Dataflow", dataflow_id(table))]["en"],
            structure=dsd.short_urn,
        )
        artefacts += [dsd, flow]
    return artefacts, names


def structure_message(inputs: StructureInputs) -> bytes:
    """The SDMX-ML 3.0 structure message of the cycle's release, names in every language."""
    from lxml import etree
    from pysdmx.io.xml.sdmx30.writer.structure import write
    from pysdmx.model.message import Header

    artefacts, names = build_structure(inputs)
    prepared = dt.datetime.combine(inputs.cycle.publication_date, dt.time(0), tzinfo=dt.UTC)
    header = Header(id=f"PMM_{inputs.cycle.id}_STRUCTURE", prepared=prepared, sender=SDMX_AGENCY, test=False)
    text = write(artefacts, header=header)
    root = etree.fromstring(text.encode("utf-8"))
    common = root.nsmap["com"]
    lang_attribute = "{http://www.w3.org/XML/1998/namespace}lang"
    for english in root.iter(f"{{{common}}}Name"):
        if english.get(lang_attribute) != "en":
            continue
        owner = english.getparent()
        key = (
            (etree.QName(owner).localname, owner.get("id"))
            if owner.get("agencyID") is not None
            else (owner.getparent().get("id"), owner.get("id"))
        )
        before = english.getprevious()
        indent = before.tail if before is not None else owner.text  # the English name's own indentation
        anchor, last_tail = english, english.tail
        for lang in LANGUAGES[1:]:
            name = names.get(key, {}).get(lang)
            if name is None:
                continue
            other = etree.Element(f"{{{common}}}Name", {lang_attribute: lang})
            other.text, other.tail, anchor.tail = name, last_tail, indent
            anchor.addnext(other)
            anchor = other
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def code_count(inputs: StructureInputs) -> int:
    """How many codes the code lists hold: the `rows` of structure.xml in manifest.json."""
    return sum(len(items) for items in codelists(inputs).values())
