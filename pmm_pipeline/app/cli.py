"""The `pmm` command: sample data, run a cycle through Dagster, follow where a cycle stands, check the KPI catalogue."""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pmm_pipeline.app.arguments import (
    CYCLE_HELP,
    MEMBER_HELP,
    CommandError,
    HelpFormatter,
    PmmArgumentParser,
    VersionAction,
    add_command,
    cycle_of,
    day,
    examples_text,
    kpi_of,
    language,
    local_today,
    member_of,
)
from pmm_pipeline.app.platform_cli import add_platform_commands
from pmm_pipeline.core.choices import UnknownChoice, choose
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import CatalogueError, load_catalogue, validate_catalogue
from pmm_pipeline.specs.reference.load import ReferenceError, load_reference

# A catalogue of PMM v1 size (51 KPIs) is too long to list in an error; the shipped one is listed whole.
KPIS_LISTED_UP_TO = 30
STATUS_WAIT_S = 60.0


# --- commands -----------------------------------------------------------------------------------------
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
    from pmm_pipeline.stages.sample.generate import WRITERS, generate_sample

    reference, cycle = cycle_of(settings, args.cycle)
    catalogue = load_catalogue(settings.specs_dir)
    formats = tuple(choose("format", f, WRITERS) for f in args.format.split(",") if f.strip())
    if args.members is not None and args.members < 1:
        raise CommandError("--members must be at least 1")
    if not 0 <= args.error_share <= 1:
        raise CommandError("--error-share must be between 0 and 1")
    if not 0 <= args.quality_defect_share <= 1:
        raise CommandError("--quality-defect-share must be between 0 and 1")
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
    from pmm_pipeline.stages.questionnaire.template import QuestionnaireError, render_questionnaire

    reference, cycle = cycle_of(settings, args.cycle)
    member = member_of(reference, args.member)
    output = Path(args.output)
    if output.suffix.lower() != ".xlsx":
        raise CommandError(f"--output {output} must end with .xlsx")
    try:
        data = render_questionnaire(load_catalogue(settings.specs_dir), reference, cycle.id, member, args.lang)
    except QuestionnaireError as err:
        raise CommandError(str(err)) from None
    try:
        output.write_bytes(data)
    except OSError as err:
        raise CommandError(f"cannot write {output}: {err.strerror}") from None
    print(f"questionnaire of {member} for cycle {cycle.id} written to {output}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.app.progress import StepProgress, run_url, terminal_stream
    from pmm_pipeline.app.run import run_cycle
    from pmm_pipeline.orchestration.instance import ensure_dagster_home

    _, cycle = cycle_of(settings, args.cycle)
    ensure_dagster_home()
    # Steps, warnings and errors go to standard error as one ordered stream (with --quiet: only warnings and
    # errors); standard output keeps the summary alone for whoever reads it.
    terminal = terminal_stream(sys.stderr)
    progress = StepProgress(terminal, ui_url=settings.ui_url, steps=not args.quiet)
    try:
        outcome = run_cycle(settings, cycle.id, on_event=progress, own_process=True)
    finally:
        progress.finish()
        if terminal is not sys.stderr:
            terminal.close()
    print(outcome.describe())
    print(f"  run in the Dagster UI: {run_url(settings.ui_url, outcome.run_id)}")
    # Each failed step or ERROR check on its own line: what failed, the file or table, what to do.
    for failure in outcome.failures:
        print(f"pmm: error: cycle {cycle.id}: {failure}", file=sys.stderr)
    return 0 if outcome.success else 1


def cmd_trace(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.stages.lineage.render import render_trace
    from pmm_pipeline.stages.lineage.trace import TraceError, load_trace
    from pmm_pipeline.warehouse.connection import open_warehouse

    reference, cycle = cycle_of(settings, args.cycle)
    member = member_of(reference, args.member)
    catalogue = load_catalogue(settings.specs_dir)
    kpi = kpi_of(catalogue, args.kpi)
    if kpi not in {k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)}:
        raise CommandError(f"KPI {kpi} is not in cycle {cycle.id}'s catalogue (version {cycle.catalogue_version})")
    if not settings.layout.warehouse_path.exists():
        raise CommandError(f"no warehouse at {settings.layout.warehouse_path}: run the cycle first")
    try:
        with open_warehouse(
            settings.layout.warehouse_path, holder="pmm trace", memory_limit=settings.warehouse_memory_limit
        ) as conn:
            trace = load_trace(conn, cycle.id, member, catalogue.kpis[kpi], catalogue, settings.data_dir)
    except TraceError as err:
        raise CommandError(str(err)) from None
    audit = _platform_audit(settings, member, cycle.id, trace.submission.submission_id)
    trace = trace.model_copy(update={"platform_audit": audit})
    # --json: the same content as the text, one document (schema: stages/lineage/trace.schema.json).
    print(trace.to_json() if args.json else render_trace(trace), end="" if args.json else "\n")
    return 0


def _platform_audit(settings: Settings, member: str, cycle: str, sha256: str) -> list:
    """The member platform's audit trail for the file (portal database), [] when there is no platform database.

    Read from the platform's own database, never the warehouse; a database that cannot be read is said on
    standard error and the trace is printed without it.
    """
    from pmm_pipeline.core.text import one_line
    from pmm_pipeline.portal.config import DATABASE_FILE, PortalSettings
    from pmm_pipeline.stages.lineage.trace_model import AuditEntry

    portal = PortalSettings.from_env(settings)
    if portal.database_url is None and not (portal.data_dir / DATABASE_FILE).is_file():
        return []
    try:
        from pmm_pipeline.portal.audit import audit_for
        from pmm_pipeline.portal.settings import configure

        configure(settings, portal, migrate=False)
        rows = audit_for(member, cycle, sha256)
    except Exception as err:  # noqa: BLE001 - the audit trail is an addition to the trace, never its failure
        print(f"pmm trace: the platform's audit trail could not be read: {one_line(str(err), 200)}", file=sys.stderr)
        return []
    scalar = (str, int, float, bool, type(None))
    return [
        AuditEntry(
            what=str(row.pop("what")),
            at=str(row.pop("at")),
            login=row.pop("login", None) or None,
            ip=row.pop("ip", None) or None,
            detail={k: v if isinstance(v, scalar) else json.dumps(v, ensure_ascii=False) for k, v in row.items()},
        )
        for row in (dict(r) for r in rows)
    ]


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from pmm_pipeline.stages.collection.cycle_status import CycleNotRun, build_status, read_status_rows, render_status
    from pmm_pipeline.warehouse.connection import WarehouseBusyError, warehouse_turn

    reference, cycle = cycle_of(settings, args.cycle)
    if not args.wait >= 0:  # also refuses nan
        raise CommandError("--wait must be a number of seconds, 0 or more")
    path = settings.layout.warehouse_path
    never_run = f"cycle {cycle.id} has not been run yet: run `pmm run --cycle {cycle.id}` first"
    if not path.exists():
        raise CommandError(f"{never_run} (no warehouse at {path})")

    def say_who(holder: str) -> None:
        print(f"pmm status: the warehouse is in use ({holder}); waiting up to {args.wait:.0f} s", file=sys.stderr)

    try:
        # Read-only and short: the warehouse's turn (taken by every reader and writer,
        # orchestration/resources/warehouse.py) is held just for these few queries, so a run waiting for it is not kept
        # waiting.
        with warehouse_turn(path, args.wait, "pmm status", on_wait=say_who):
            conn = duckdb.connect(str(path), read_only=True, config={"memory_limit": settings.warehouse_memory_limit})
            try:
                rows = read_status_rows(conn, cycle.id)
            finally:
                conn.close()
    except CycleNotRun:
        raise CommandError(f"{never_run} (the warehouse {path} holds nothing of it)") from None
    except WarehouseBusyError as err:
        raise CommandError(str(err)) from None
    except (duckdb.Error, OSError) as err:
        raise CommandError(f"cannot read the warehouse {path}: {str(err).splitlines()[0]}") from None
    status = build_status(reference, cycle, rows, local_today(reference, args.as_of), str(path))
    print(json.dumps(status, indent=2, ensure_ascii=False) if args.json else render_status(status))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.app.listing import (
        CYCLE_COLUMNS,
        KPI_COLUMNS,
        MEMBER_COLUMNS,
        list_cycles,
        list_kpis,
        list_members,
        render_table,
    )

    reference = load_reference(settings.reference_dir, settings.cycles_file)
    cycle = cycle_of(settings, args.cycle)[1] if args.cycle else None
    today = local_today(reference, None)
    if args.what == "cycles":
        rows, columns = list_cycles(reference, today), CYCLE_COLUMNS
    elif args.what == "members":
        rows, columns = list_members(reference, cycle, today), MEMBER_COLUMNS
    else:
        catalogue = load_catalogue(settings.specs_dir)
        rows, columns = list_kpis(catalogue, cycle.catalogue_version if cycle else None), KPI_COLUMNS
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else render_table(rows, columns))
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.app.self_check import (
        SelfCheckError,
        as_document,
        check_file,
        feedback_workbook,
        member_language,
        render_text,
    )

    reference = load_reference(settings.reference_dir, settings.cycles_file)
    cycle_id = cycle_of(settings, args.cycle)[1].id if args.cycle else None
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix.lower() != ".xlsx":
        raise CommandError(f"--output {output} must end with .xlsx")
    catalogue = load_catalogue(settings.specs_dir)
    try:
        check = check_file(Path(args.file), reference, catalogue, settings.intake_limits, cycle_id)
    except SelfCheckError as err:
        raise CommandError(str(err)) from None
    lang = args.lang or member_language(reference, check.member_code)
    if output is not None:
        try:
            output.write_bytes(feedback_workbook(check, reference, catalogue, lang))
        except OSError as err:
            raise CommandError(f"cannot write {output}: {err.strerror}") from None
    if args.json:
        print(json.dumps(as_document(check, lang), indent=2, ensure_ascii=False))
    else:
        print(render_text(check, lang))
        if output is not None:
            print(f"feedback report written to {output}")
    return check.exit_status


def build_parser() -> argparse.ArgumentParser:
    parser = PmmArgumentParser(
        prog="pmm",
        description=__doc__,
        formatter_class=HelpFormatter,
        epilog=examples_text(
            "pmm sample --cycle 2023 --members 20 --seed 1",
            "pmm run --cycle 2023",
            "pmm status --cycle 2023",
            "pmm list kpis --cycle 2025",
            "pmm <command> --help      (every command's options and examples)",
        ),
    )
    parser.add_argument("--version", action=VersionAction, help="print the package and code version, then exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    sample = add_command(
        commands,
        "sample",
        "write realistic synthetic submissions into landing/<cycle>/",
        (
            "pmm sample --cycle 2023",
            "pmm sample --cycle 2023 --members 30 --seed 7 --format json,xlsx,csv",
            "pmm sample --cycle 2025 --error-share 0.1 --quality-defect-share 0.05",
        ),
        cmd_sample,
    )
    sample.add_argument("--cycle", required=True, help=CYCLE_HELP)
    sample.add_argument("--members", type=int, default=None, help="how many members (default: all in force)")
    sample.add_argument("--seed", type=int, default=0, help="random seed: the same seed writes the same files")
    sample.add_argument("--format", default="json", help="comma-separated formats, any of json, xlsx, csv")
    sample.add_argument(
        "--error-share",
        type=float,
        default=0.0,
        help="share (0 to 1) of members that also send one bad file of each kind",
    )
    sample.add_argument(
        "--quality-defect-share",
        type=float,
        default=0.0,
        help="share (0 to 1) of participating members whose latest submission gets one quality defect"
        " (caught by the gate)",
    )

    run = add_command(
        commands,
        "run",
        "materialize every asset of a cycle through Dagster, showing each step",
        ("pmm run --cycle 2023", "pmm run --cycle 2023 --quiet > summary.txt"),
        cmd_run,
        "Materializes every asset of the cycle in one Dagster run recorded in DAGSTER_HOME. Each step is shown"
        " on standard error as it starts and ends ([n/N] step ... seconds); the summary and the run's address"
        " in the Dagster UI (PMM_UI_URL, or port PMM_UI_PORT of `make dev`) are printed on standard output."
        " Exit status 0 only if the run succeeded.",
    )
    run.add_argument("--cycle", required=True, help=CYCLE_HELP)
    run.add_argument("--quiet", action="store_true", help="do not show the steps; print only the summary")

    template = add_command(
        commands,
        "template",
        "write a member's Excel questionnaire for a cycle",
        (
            "pmm template --cycle 2023 --member KEN --output KEN_2023.xlsx",
            "pmm template --cycle 2023 --member sen --lang fr --output SEN_2023.xlsx",
        ),
        cmd_template,
    )
    template.add_argument("--cycle", required=True, help=CYCLE_HELP)
    template.add_argument("--member", required=True, help=MEMBER_HELP)
    template.add_argument(
        "--lang", type=language, default=None, help="en, fr or es (default: the member's language in members.csv)"
    )
    template.add_argument("--output", required=True, help="the .xlsx file to write")

    trace = add_command(
        commands,
        "trace",
        "print how a published value was derived, down to the file and cell",
        (
            "pmm trace --cycle 2023 --member KEN --kpi aeo_count_variation",
            "pmm trace --cycle 2023 --member ken --kpi electronic_declaration_rate",
            "pmm trace --cycle 2023 --member KEN --kpi aeo_trade_share --json",
        ),
        cmd_trace,
    )
    trace.add_argument("--cycle", required=True, help=CYCLE_HELP)
    trace.add_argument("--member", required=True, help=MEMBER_HELP)
    trace.add_argument("--kpi", required=True, help="KPI id, e.g. electronic_declaration_rate (`pmm list kpis`)")
    trace.add_argument(
        "--json", action="store_true", help="print one JSON document (format pmm-trace, docs/auditors.md)"
    )

    status = add_command(
        commands,
        "status",
        "where a cycle stands: dates, state, who is outstanding, blocked or rejected",
        ("pmm status --cycle 2023", "pmm status --cycle 2025 --json", "pmm status --cycle 2023 --as-of 2024-02-01"),
        cmd_status,
        "The cycle's dates and state (not yet open, open, reopened, closed), then per WCO region the members"
        " expected, received, used and outstanding (with their codes), the members blocked by the quality gate"
        " with the blocking rules, and the files rejected by reason. Read from the warehouse (read-only).",
    )
    status.add_argument("--cycle", required=True, help=CYCLE_HELP)
    status.add_argument("--json", action="store_true", help="print one JSON document (format pmm-cycle-status)")
    status.add_argument(
        "--as-of",
        type=day,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge the cycle's state on this day instead of today (in the calendar's time zone)",
    )
    status.add_argument(
        "--wait",
        type=float,
        default=STATUS_WAIT_S,
        metavar="SECONDS",
        help="how long to wait for a run that holds the warehouse",
    )

    validate = add_command(
        commands,
        "validate",
        "check one file offline as the intake and the quality gate would, before sending it",
        (
            "pmm validate KEN_2023.xlsx",
            "pmm validate KEN_2023.json --lang fr",
            "pmm validate KEN_2023.csv --cycle 2023 --output feedback_KEN.xlsx",
            "pmm validate KEN_2023.json --json",
        ),
        cmd_validate,
        "Runs the intake's checks and the quality rules that need only this member's answers on FILE, offline,"
        " and prints the verdict (accepted, or rejected with its reason), every problem with its place in the file"
        " and every quality finding, in the words of the member's feedback report. Rules that compare with other"
        " members or earlier cycles are listed as not checked. Nothing is sent, archived or recorded. Exit status"
        " 0 when the file would be accepted with no blocking finding, 1 when it would be rejected or blocked.",
    )
    validate.add_argument("file", metavar="FILE", help="the submission file: .json, .xlsx, .csv (or .tsv, .txt)")
    validate.add_argument(
        "--cycle", default=None, help=CYCLE_HELP + "; default: the cycle the file names, when a configured one"
    )
    validate.add_argument(
        "--lang",
        type=language,
        default=None,
        help="en, fr or es (default: the questionnaire language of the member the file names, else en)",
    )
    validate.add_argument(
        "--output", default=None, metavar="F.xlsx", help="also write the member's Excel feedback report for this file"
    )
    validate.add_argument("--json", action="store_true", help="print one JSON document (format pmm-self-check)")

    listing = add_command(
        commands,
        "list",
        "list the cycles, members or KPIs other commands accept",
        ("pmm list cycles", "pmm list members --cycle 2023", "pmm list kpis --cycle 2025 --json"),
        cmd_list,
        "cycles: each configured cycle with its dates, catalogue version and state today. members: code, name,"
        " WCO region and questionnaire language of the members in force today (or for --cycle). kpis: id,"
        " shape, series and name of every KPI of the catalogue (or of the catalogue version of --cycle).",
    )
    listing.add_argument(
        "what", choices=("cycles", "members", "kpis"), metavar="cycles|members|kpis", help="what to list"
    )
    listing.add_argument("--cycle", default=None, help="members in force for this cycle; KPIs of its catalogue version")
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    add_platform_commands(commands)

    specs = add_command(
        commands,
        "specs",
        "KPI catalogue commands",
        ("pmm specs check", "pmm specs check path/to/kpi_specs"),
        None,
    )
    specs_commands = specs.add_subparsers(dest="specs_command", required=True, metavar="command")
    check = add_command(
        specs_commands,
        "check",
        "validate a KPI catalogue and report every error with its file",
        ("pmm specs check", "pmm specs check path/to/kpi_specs"),
        cmd_specs_check,
    )
    check.add_argument("dir", nargs="?", default=None, help="the catalogue folder (default: PMM_KPI_SPECS_DIR)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as err:  # a PMM_ setting that cannot be used
        print(f"pmm: error: {err}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, settings)
    except (CommandError, ReferenceError, UnknownChoice, CatalogueError) as err:
        print(f"pmm: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
