"""The shared words of the pipeline, each defined once: tiers, languages, statuses, group types."""

from typing import Literal

# Disclosure tiers, from the widest audience to the narrowest. A member's disclosure choice for a KPI is one of
# them (the tier its value may reach at the widest), so the same tuple names both.
TIERS = ("public", "wco", "secretariat")
Tier = Literal[TIERS]
# A KPI a member left out of its disclosure choices stays with the Secretariat (contract, interchange format).
DEFAULT_DISCLOSURE = TIERS[-1]

# The questionnaire's, the reports' and the feedback's languages.
LANGUAGES = ("en", "fr", "es")
Language = Literal[LANGUAGES]

# What a member may say of one answer; an item left out is missing.
ANSWER_STATUSES = ("reported", "not_applicable", "not_available")
# What a published KPI value is (contract, kpi_values.status).
VALUE_STATUSES = ("reported", "not_applicable", "missing", "undefined")

# The kinds of member groups that rollups are computed for (contract, rollups.group_type).
GROUP_TYPES = ("global", "region", "income_group", "landlocked", "admin_type")
GroupType = Literal[GROUP_TYPES]

# How a file reached the pipeline: copied into landing/<cycle>/, or sent through the member platform (which
# records the account and the receipt time in an arrival note: stages/ingestion/arrivals.py).
CHANNELS = ("landing", "platform")
# Reasons only the platform can give a file: it was received outside the cycle's collection window and any
# reopening, or an NCP account sent a file that names another member. Member-facing words: feedback/texts.py.
PLATFORM_REASON_CODES = ("cycle_closed", "wrong_member")
