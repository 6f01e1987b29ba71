"""What the SDMX tests of a release share: the published tables SDMX is written for (`TABLES`), the attribute name of
xml:lang (`XML_LANG`), and `structure_inputs()`, the inputs of structure.xml for a cycle of the reference data. Used
by test_sdmx.py and test_sdmx_release.py.
"""

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.publishing.sdmx_structure import StructureInputs

TABLES = ("kpi_values", "rollups")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def structure_inputs(cycle_id: str = "2023", min_group_size: int = 3) -> StructureInputs:
    settings = Settings.from_env({})
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    cycle = reference.cycles.get(cycle_id)
    return StructureInputs(
        cycle=cycle,
        cycles=reference.cycles.cycles,
        kpis=load_catalogue(settings.specs_dir).kpis_for_version(cycle.catalogue_version),
        members=reference.members_in_force(cycle),
        groups=reference.groups,
        min_group_size=min_group_size,
    )
