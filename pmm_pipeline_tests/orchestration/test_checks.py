"""Issue 18 item 2: checks a data engineer reads at a glance.

Every asset check of the code location is classified once (orchestration/checks.py) as a data finding or a
guarantee; its blocking flag, severity, description and metadata all follow from that kind and never
contradict each other; every check is partitioned by cycle; every description renders in the UI's markdown.
"""

import re

import dagster as dg
import pytest

from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.defs.quality import findings_description
from pmm_pipeline.orchestration.checks import (
    BLOCKING_METADATA_KEY,
    CHECKS,
    KIND_METADATA_KEY,
    SEVERITY_METADATA_KEY,
    CheckDeclaration,
    CheckKind,
    UndeclaredCheckError,
)
from pmm_pipeline.orchestration.metadata import markdown_description
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline_tests.conftest import settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


# An HTML tag or placeholder the UI's markdown would eat: `<` then a letter, `/`, `!` or `?`.
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(settings_for(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def check_specs(defs) -> list[tuple[dg.AssetCheckSpec, dg.AssetsDefinition]]:
    return [
        (spec, a)
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition)
        for spec in a.check_specs_by_output_name.values()
    ]


def test_every_check_of_the_definitions_is_classified_and_nothing_else_is(defs):
    names = {spec.name for spec, _ in check_specs(defs)}
    assert names and names == set(CHECKS)  # no check unclassified, no stale declaration
    kinds = {name: CHECKS[name].kind for name in names}
    # Every quality rule is a data finding; the gate's own promise and the audits are guarantees.
    assert {n for n, k in kinds.items() if k is CheckKind.data_finding} == {rule.id for rule in RULES}
    assert {n for n, k in kinds.items() if k is CheckKind.guarantee} >= {
        "gate_admitted_no_blocked_member",
        "archive_copies_intact",
        "shows_only_values_its_readers_may_see",
        "reveals_no_hidden_value",
    }


def test_blocking_severity_metadata_and_words_follow_the_kind(defs):
    for spec, _ in check_specs(defs):
        declared = CHECKS[spec.name]
        assert spec.blocking == declared.blocking, spec.name
        assert spec.metadata[KIND_METADATA_KEY].value == declared.kind.value
        assert spec.metadata[BLOCKING_METADATA_KEY].value == declared.blocking
        assert spec.metadata[SEVERITY_METADATA_KEY].value == declared.severity.value
        words = spec.description.lower()
        if declared.kind is CheckKind.data_finding:
            assert not spec.blocking and declared.severity == dg.AssetCheckSeverity.WARN
            assert words.startswith("data finding recorded by the quality gate")
            # The rule's own effect on a member is described, never as the check "blocking" or "failing".
            assert "blocking" not in words and "fail" not in words, spec.name
        else:
            assert declared.severity == dg.AssetCheckSeverity.ERROR
            assert words.startswith("guarantee of the pipeline")
            assert ("not blocking" in words) == (not spec.blocking), spec.name
            assert ("blocking:" in words) == spec.blocking, spec.name


def test_the_ui_shows_the_same_blocking_flag_as_the_declaration(graph):
    for key in graph.asset_check_keys:
        assert graph.get(key).blocking == CHECKS[key.name].blocking, key


def test_every_check_is_partitioned_by_the_cycle_of_its_asset(defs, graph):
    for spec, assets_def in check_specs(defs):
        assert assets_def.partitions_def is not None
        assert spec.partitions_def == assets_def.partitions_def, spec.name
    for key in graph.asset_check_keys:
        assert graph.get(key).partitions_def == graph.get(key.asset_key).partitions_def


def test_a_data_finding_cannot_be_declared_blocking():
    with pytest.raises(ValueError, match="never blocks"):
        CheckDeclaration("x", CheckKind.data_finding, why_not_blocking="it would block")


def test_an_undeclared_check_fails_the_code_location():
    @dg.asset(check_specs=[dg.AssetCheckSpec("not_in_the_table", asset="answers")])
    def answers():
        yield dg.MaterializeResult()

    with pytest.raises(UndeclaredCheckError, match="not_in_the_table"):
        apply_asset_policies([answers], strict_checks=True)
    assert apply_asset_policies([answers])  # a test's own asset, outside the code location, is left as written


def test_the_guard_gives_every_result_the_severity_of_its_kind():
    # A stage that wrote ERROR for a data finding, and WARN for a guarantee: the kind decides.
    @dg.asset(
        check_specs=[
            dg.AssetCheckSpec("known_codes", asset="answers"),
            dg.AssetCheckSpec("archive_copies_intact", asset="answers"),
        ]
    )
    def answers():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="known_codes", passed=False, severity=dg.AssetCheckSeverity.ERROR)
        yield dg.AssetCheckResult(check_name="archive_copies_intact", passed=False, severity=dg.AssetCheckSeverity.WARN)

    defs = dg.Definitions(
        assets=apply_asset_policies([answers]),
        jobs=[dg.define_asset_job("j", executor_def=dg.in_process_executor)],
    )
    result = defs.resolve_job_def("j").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["known_codes"].severity == dg.AssetCheckSeverity.WARN
    assert evaluations["archive_copies_intact"].severity == dg.AssetCheckSeverity.ERROR
    for name, evaluation in evaluations.items():
        assert evaluation.metadata[KIND_METADATA_KEY].value == CHECKS[name].kind.value


@pytest.mark.parametrize(
    "findings, flagged, blocked, expected",
    [
        (0, 0, 0, "no finding in members' data"),
        (1, 1, 0, "1 finding in members' data recorded (1 member); 0 members blocked"),
        (7, 3, 2, "7 findings in members' data recorded (3 members); 2 members blocked"),
        (1200, 150, 1, "1,200 findings in members' data recorded (150 members); 1 member blocked"),
    ],
)
def test_a_data_finding_says_what_was_recorded_never_failed(findings, flagged, blocked, expected):
    text = findings_description(findings, flagged, blocked)
    assert text == expected
    assert "fail" not in text


def _outside_code(text: str) -> str:
    return CODE_SPAN.sub("", text)


def test_no_description_of_the_definitions_has_a_bare_tag_outside_code(defs, graph):
    descriptions = {}
    for key in graph.get_all_asset_keys():
        descriptions[f"asset {key.to_user_string()}"] = graph.get(key).description or ""
    for key in graph.asset_check_keys:
        descriptions[f"check {key.to_user_string()}"] = graph.get(key).description or ""
    for a in defs.assets:
        if isinstance(a, dg.AssetsDefinition) and a.is_executable:
            descriptions[f"op {a.node_def.name}"] = a.node_def.description or ""
    # The descriptions that named placeholders before are among them, placeholders kept as code.
    placeholders = [name for name, text in descriptions.items() if "<cycle>" in text]
    assert len(placeholders) >= 3
    bare = {name: TAG_LIKE.findall(_outside_code(text)) for name, text in descriptions.items()}
    assert {name: found for name, found in bare.items() if found} == {}
    release = next(text for name, text in descriptions.items() if name == "asset publish_public/releases")
    assert "`published/<cycle>/public/`" in release


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Writes published/<cycle>/public/ (kpi_values)", "Writes `published/<cycle>/public/` (kpi_values)"),
        ("of landing/<cycle>/, then", "of `landing/<cycle>/`, then"),
        ("one <tier> and <b>bold</b>", "one `<tier>` and `<b>bold</b>`"),
        ("already `landing/<cycle>/` as code", "already `landing/<cycle>/` as code"),
        ("a <= b and x < 3", "a <= b and x < 3"),
        ("open <!-- a comment", "open &lt;!-- a comment"),
    ],
)
def test_a_description_keeps_its_placeholders_as_code(text, expected):
    assert markdown_description(text) == expected
    assert markdown_description(expected) == expected  # applying it twice changes nothing


def test_a_check_description_naming_a_members_file_renders_as_text():
    name = "KEN | x\n![x](http://e.example/x.png) [l](http://e.example) <script>alert(1)</script> `c`.json"

    @dg.asset(check_specs=[dg.AssetCheckSpec("archive_copies_intact", asset="received_files")])
    def received_files():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            check_name="archive_copies_intact", passed=False, description=f"1 archived copy is missing: {name}"
        )

    defs = dg.Definitions(
        assets=apply_asset_policies([received_files]),
        jobs=[dg.define_asset_job("j", executor_def=dg.in_process_executor)],
    )
    result = defs.resolve_job_def("j").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    [evaluation] = result.get_asset_check_evaluations()
    text = evaluation.description
    assert "\n" not in text and "<" not in text
    assert not re.search(r"(?<!\\)!(?<!\\)\[", text) and not re.search(r"(?<!\\)\]\(", text)
    assert "KEN \\| x \\!\\[x\\](http://e.example/x.png)" in text and "&lt;script&gt;" in text
