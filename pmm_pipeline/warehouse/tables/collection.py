"""The collection's tables (schema collection): completeness, questionnaires written, members outstanding."""

from pmm_pipeline.warehouse.tables.declaration import C, Table

COMPLETENESS = Table(
    "collection",
    "completeness",
    "One cycle and member group (all members, or one WCO region) with how complete and timely the collection"
    " is: members expected, received, received on time, used, and KPIs the members declared not applicable.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("group_type", "VARCHAR", "global or region"),
        C("group_code", "VARCHAR", "all, or the WCO region code"),
        C("members_expected", "INTEGER", "members in force for the cycle"),
        C("members_received", "INTEGER", "members with at least one accepted submission version (late ones included)"),
        C(
            "members_received_on_time",
            "INTEGER",
            "members with an accepted version first seen before the collection closed",
        ),
        C("members_participating", "INTEGER", "members whose submission the cycle uses (a version not frozen out)"),
        C("members_outstanding", "INTEGER", "members expected that sent no accepted submission"),
        C("versions_late", "INTEGER", "accepted versions first seen after the collection closed"),
        C("versions_frozen_out", "INTEGER", "late versions kept but not used (the cycle's inputs were frozen)"),
        C("members_opting_out", "INTEGER", "participating members that declared at least one KPI not applicable"),
        C("kpis_opted_out", "INTEGER", "(member, KPI) pairs declared not applicable (a series or more not_applicable)"),
        C("received_pct", "DOUBLE", "100 * members_received / members_expected"),
        C("received_on_time_pct", "DOUBLE", "100 * members_received_on_time / members_expected"),
    ),
    row_key=("cycle", "group_type", "group_code"),
)
QUESTIONNAIRES = Table(
    "collection",
    "questionnaires",
    "One Excel questionnaire written at the opening of a cycle for a member in force, in the member's language.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("language", "VARCHAR", "language of the questionnaire (the member's: en, fr, es)"),
        C("path", "VARCHAR", "where it was written: published/<cycle>/questionnaires/<member>_<cycle>_<lang>.xlsx"),
        C("sha256", "VARCHAR", "SHA-256 of the file"),
        C("size_bytes", "BIGINT", "size of the file"),
    ),
    row_key=("cycle", "member_code"),
)
OUTSTANDING_MEMBERS = Table(
    "collection",
    "outstanding_members",
    "One member in force for the cycle that has not sent an accepted submission yet, as listed on a day of the"
    " collection window (the daily reminder list for the national contact points).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("member_name", "VARCHAR", "member name in English"),
        C("region_code", "VARCHAR", "WCO region"),
        C("language", "VARCHAR", "questionnaire language (en, fr, es)"),
        C("has_rejected_files", "BOOLEAN", "a file named after the member was received but rejected"),
        C("listed_on", "DATE", "the day of the list (in the calendar's time zone)"),
        C("closes_on", "DATE", "the last day of the collection window (or of the reopening)"),
        C("days_left", "INTEGER", "days from listed_on to closes_on; negative once the window has closed"),
    ),
    row_key=("cycle", "member_code"),
)
