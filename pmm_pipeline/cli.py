"""The `pmm` command: sample data, run a cycle through Dagster, check the KPI catalogue."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pmm_pipeline.catalogue.load import CatalogueError, load_catalogue, validate_catalogue
from pmm_pipeline.reference.load import ReferenceError, load_reference
from pmm_pipeline.settings import Settings


class CommandError(Exception):
    """A problem with the arguments or the input, reported as one line and exit status 2."""


def _cycle_of(settings: Settings, cycle_id: str):
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    try:
        return reference, reference.cycles.get(cycle_id)
    except KeyError as err:
        raise CommandError(err.args[0]) from None


def cmd_specs_check(args: argparse.Namespace, settings: Settings) -> int:
    specs_dir = Path(args.dir) if args.dir else settings.specs_dir
    catalogue, problems = validate_catalogue(specs_dir)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} error(s) in the KPI catalogue {specs_dir}", file=sys.stderr)
        return 1
    items = {i for k in catalogue.kpis.values() for i in k.items}
    print(f"{specs_dir}: {len(catalogue.kpis)} KPIs, {len(items)} items, all valid")
    return 0


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.sample.generate import generate_sample

    reference, cycle = _cycle_of(settings, args.cycle)
    catalogue = load_catalogue(settings.specs_dir)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    if args.members is not None and args.members < 1:
        raise CommandError("--members must be at least 1")
    if not 0 <= args.error_share <= 1:
        raise CommandError("--error-share must be between 0 and 1")
    try:
        summary = generate_sample(
            reference=reference,
            catalogue=catalogue,
            cycle_id=cycle.id,
            landing_dir=settings.layout.landing_dir(cycle.id),
            members=args.members,
            seed=args.seed,
            formats=formats,
            error_share=args.error_share,
            quality_defect_share=args.quality_defect_share,
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    print(summary)
    print(f"written to {settings.layout.landing_dir(cycle.id)}")
    return 0


def cmd_template(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.questionnaire.template import QuestionnaireError, render_questionnaire

    reference, cycle = _cycle_of(settings, args.cycle)
    try:
        data = render_questionnaire(load_catalogue(settings.specs_dir), reference, cycle.id, args.member, args.lang)
    except QuestionnaireError as err:
        raise CommandError(str(err)) from None
    output = Path(args.output)
    if output.suffix.lower() != ".xlsx":
        raise CommandError(f"--output {output} must end with .xlsx")
    try:
        output.write_bytes(data)
    except OSError as err:
        raise CommandError(f"cannot write {output}: {err.strerror}") from None
    print(f"questionnaire of {args.member} for cycle {cycle.id} written to {output}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.orchestration.instance import ensure_dagster_home
    from pmm_pipeline.orchestration.run import run_cycle

    _cycle_of(settings, args.cycle)
    ensure_dagster_home()
    outcome = run_cycle(settings, args.cycle)
    print(outcome.describe())
    # Each failed step or ERROR check on its own line: what failed, the file or table, what to do.
    for failure in outcome.failures:
        print(f"pmm: error: cycle {args.cycle}: {failure}", file=sys.stderr)
    return 0 if outcome.success else 1


def cmd_trace(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.lineage.trace import TraceError, load_trace, render_trace
    from pmm_pipeline.resources.warehouse import open_warehouse

    reference, cycle = _cycle_of(settings, args.cycle)
    if args.member not in reference.known_member_codes():
        raise CommandError(f"unknown member {args.member!r} (a code from members.csv, e.g. KEN)")
    catalogue = load_catalogue(settings.specs_dir)
    if args.kpi not in catalogue.kpis:
        raise CommandError(f"unknown KPI {args.kpi!r} (see kpi_specs/)")
    if not settings.layout.warehouse_path.exists():
        raise CommandError(f"no warehouse at {settings.layout.warehouse_path}: run the cycle first")
    try:
        with open_warehouse(
            settings.layout.warehouse_path, holder="pmm trace", memory_limit=settings.warehouse_memory_limit
        ) as conn:
            rows = load_trace(conn, cycle.id, args.member, args.kpi)
    except TraceError as err:
        raise CommandError(str(err)) from None
    print(render_trace(rows, catalogue.kpis[args.kpi].names.en))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    sample = commands.add_parser("sample", help="write realistic synthetic submissions into landing/<cycle>/")
    sample.add_argument("--cycle", required=True)
    sample.add_argument("--members", type=int, default=None, help="how many members (default: all in force)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--format", default="json", help="comma-separated formats: json, xlsx, csv")
    sample.add_argument("--error-share", type=float, default=0.0, help="share of members that also send a bad file")
    sample.add_argument(
        "--quality-defect-share", type=float, default=0.0,
        help="share of participating members whose latest submission gets one quality defect (caught by the gate)",
    )
    sample.set_defaults(handler=cmd_sample)

    run = commands.add_parser("run", help="materialize every asset of a cycle through Dagster")
    run.add_argument("--cycle", required=True)
    run.set_defaults(handler=cmd_run)

    template = commands.add_parser("template", help="write a member's Excel questionnaire for a cycle")
    template.add_argument("--cycle", required=True)
    template.add_argument("--member", required=True, help="member code, e.g. KEN")
    template.add_argument("--lang", choices=("en", "fr", "es"), default=None, help="default: the member's language")
    template.add_argument("--output", required=True, help="the .xlsx file to write")
    template.set_defaults(handler=cmd_template)

    trace = commands.add_parser("trace", help="print how a published value was derived, down to the file and cell")
    trace.add_argument("--cycle", required=True)
    trace.add_argument("--member", required=True, help="member code, e.g. KEN")
    trace.add_argument("--kpi", required=True, help="KPI id, e.g. electronic_declaration_rate")
    trace.set_defaults(handler=cmd_trace)

    specs = commands.add_parser("specs", help="KPI catalogue commands")
    specs_commands = specs.add_subparsers(dest="specs_command", required=True, metavar="command")
    check = specs_commands.add_parser("check", help="validate a KPI catalogue and report every error with its file")
    check.add_argument("dir", nargs="?", default=None)
    check.set_defaults(handler=cmd_specs_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args, Settings.from_env())
    except (CommandError, ReferenceError) as err:
        print(f"pmm: error: {err}", file=sys.stderr)
        return 2
    except CatalogueError as err:
        print(f"pmm: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
