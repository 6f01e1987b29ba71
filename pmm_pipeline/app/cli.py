"""The `pmm` command: sample data, run a cycle through Dagster, follow where a cycle stands, check the KPI catalogue."""

# This module declares the command line (build_parser) and runs it (main); what each command does is in
# commands.py. The docstring above is the description `pmm --help` prints, so it speaks to the user.
import argparse
import sys
from collections.abc import Sequence

from pmm_pipeline.app.arguments import (
    CYCLE_HELP,
    MEMBER_HELP,
    CommandError,
    HelpFormatter,
    PmmArgumentParser,
    VersionAction,
    add_command,
    day,
    examples_text,
    language,
)
from pmm_pipeline.app.commands import (
    cmd_list,
    cmd_run,
    cmd_sample,
    cmd_specs_check,
    cmd_status,
    cmd_template,
    cmd_trace,
    cmd_validate,
)
from pmm_pipeline.app.platform_cli import add_platform_commands
from pmm_pipeline.core.choices import UnknownChoice
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import CatalogueError
from pmm_pipeline.specs.reference.load import ReferenceError

STATUS_WAIT_S = 60.0


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
