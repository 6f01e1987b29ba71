"""The benchmark's 250-member cycle: every ISO 3166-1 alpha-3 code and the European Union a member, in real groups."""

import pycountry
import pytest

from benchmarks.disclosure import every_iso_code_a_member
from benchmarks.kpi_warehouse import CYCLE
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.reference.load import load_reference

pytestmark = pytest.mark.unit


def test_every_iso_code_is_a_member_with_the_groups_of_the_reference_data():
    settings = Settings.from_env({})
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    before = reference.members_in_force(reference.cycles.get(CYCLE))
    in_force = every_iso_code_a_member(reference).members_in_force(reference.cycles.get(CYCLE))
    assert set(in_force) == {c.alpha_3 for c in pycountry.countries} | {"EUU"}
    assert len(in_force) == 250 > len(before)
    assert all(in_force[code] == membership for code, membership in before.items())  # the real ones unchanged
    groups = {(g.group_type, g.group_code) for g in reference.groups}
    for membership in in_force.values():
        for group_type in ("region", "income_group", "landlocked", "admin_type"):
            assert (group_type, membership.group_code(group_type)) in groups
