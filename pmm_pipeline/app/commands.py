"""What each `pmm` command does once its command line is parsed (cli.py declares the command line): sample, template,
run, trace, status, list, validate and specs check. Each takes the parsed arguments and the settings and returns the
exit status; a CommandError is a refusal that cli.main prints.
"""

import argparse
import json
import sys
from pathlib import Path

from pmm_pipeline.app.arguments import CommandError, cycle_of, kpi_of, local_today, member_of
from pmm_pipeline.core.choices import choose
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue, validate_catalogue
from pmm_pipeline.specs.reference.load import load_reference


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
    audit = platform_audit_of_file(settings, member, cycle.id, trace.submission.submission_id)
    trace = trace.model_copy(update={"platform_audit": audit})
    # --json: the same content as the text, one document (schema: stages/lineage/trace.schema.json).
    print(trace.to_json() if args.json else render_trace(trace), end="" if args.json else "\n")
    return 0


def platform_audit_of_file(settings: Settings, member: str, cycle: str, sha256: str) -> list:
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
    from pmm_pipeline.app.self_check import SelfCheckError, check_file
    from pmm_pipeline.app.self_check_report import as_document, feedback_workbook, member_language, render_text

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
