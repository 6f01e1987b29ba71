"""What every `pmm` command shares: one-line errors, forgiving ids (case ignored, near misses suggested,
pmm_pipeline/core/choices.py), argument types, and the parser with its help layout and examples."""

import argparse
import datetime as dt
from collections.abc import Iterable

from pmm_pipeline.core.choices import LIST_ALL_UP_TO, UnknownChoice, choose, describe_unknown, nearest
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.reference.load import Reference, load_reference

# A catalogue of PMM v1 size (51 KPIs) is too long to list in an error; the shipped one is listed whole.
KPIS_LISTED_UP_TO = 30


class CommandError(Exception):
    """A problem with the arguments or the input, reported as one line and exit status 2."""


def cycle_of(settings: Settings, given: str):
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    cycle_id = choose("cycle", given, reference.cycles.ids, hint="see `pmm list cycles`")
    return reference, reference.cycles.get(cycle_id)


def member_of(reference: Reference, given: str) -> str:
    return choose("member", given, sorted(reference.known_member_codes()), hint="see `pmm list members`")


def kpi_of(catalogue, given: str, cycle=None) -> str:
    known = [k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)] if cycle else list(catalogue.kpis)
    return choose("KPI", given, known, hint="see `pmm list kpis`", list_all_up_to=KPIS_LISTED_UP_TO)


def language(text: str) -> str:
    """argparse type of --lang: en, fr or es in any case."""
    try:
        return choose("language", text, LANGUAGES)
    except UnknownChoice as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def local_today(reference: Reference, as_of: dt.date | None) -> dt.date:
    return as_of or reference.cycles.local_day(dt.datetime.now(dt.UTC))


class PmmArgumentParser(argparse.ArgumentParser):
    """argparse with the contract's one-line errors and near-miss suggestions for every choice."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def _check_value(self, action, value):  # argparse's hook for `choices`, used by commands and list kinds
        if action.choices is not None and value not in action.choices:
            known = list(action.choices)
            kind = "command" if isinstance(action, argparse._SubParsersAction) else CHOICE_KINDS.get(action.dest)
            listed = known if len(known) <= LIST_ALL_UP_TO else []
            message = describe_unknown(kind or action.dest, str(value), nearest(str(value), known), listed, None)
            raise argparse.ArgumentError(None, message)


# What a positional choice is called in its error message.
CHOICE_KINDS = {"what": "list"}


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Examples (epilogs) keep their lines; options show their defaults."""


class VersionAction(argparse.Action):
    """--version, computed only when asked (the code version may ask git)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())  # on standard output, like --help, for programs that read it
        parser.exit(0)


def version_text() -> str:
    """The package version and the code version every manifest and provenance row records."""
    from importlib import metadata

    from pmm_pipeline.core.provenance import code_version

    try:
        package = metadata.version("pmm_pipeline")
    except metadata.PackageNotFoundError:
        package = "unknown"
    return f"pmm {package} (code version {code_version()}, as recorded in manifests and lineage)"


def examples_text(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_command(commands, name: str, help_text: str, examples: Iterable[str], handler, description: str = ""):
    parser = commands.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        epilog=examples_text(*examples),
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


CYCLE_HELP = "cycle id from cycles.yaml, e.g. 2023 (`pmm list cycles`)"
MEMBER_HELP = "member code, any case, e.g. KEN or ken (`pmm list members`)"
