"""Column groups several tables declare alike: an answer, the place in the file it came from, how a file came."""

from pmm_pipeline.warehouse.tables.declaration import C

SOURCE_COLUMNS = (
    C("source_file", "VARCHAR", "name of the file the answer came from"),
    C("source_pointer", "VARCHAR", "JSON pointer of the answer in a JSON file"),
    C("source_sheet", "VARCHAR", "sheet of the answer in an Excel questionnaire"),
    C("source_cell", "VARCHAR", "cell of the answer in an Excel questionnaire"),
    C("source_line", "INTEGER", "line of the answer in a CSV export"),
)
ANSWER_COLUMNS = (
    C("item", "VARCHAR", "questionnaire item code"),
    C("year", "INTEGER", "calendar year the answer describes (T or T-1)"),
    C("value", "DOUBLE", "the number answered (the level's score for level items); NULL unless reported"),
    C("value_text", "VARCHAR", "the level code for level and yes/no items"),
    C("status", "VARCHAR", "reported, not_applicable or not_available"),
    C("comment", "VARCHAR", "the member's comment or justification"),
)
# How a file came, on every raw record of a file: through the member platform (with the account that sent it) or
# copied into landing by hand. The published tables never carry them.
CHANNEL_COLUMNS = (
    C("channel", "VARCHAR", "landing (copied into the landing folder) or platform (delivered by the member platform)"),
    C("account", "VARCHAR", "login of the platform account that sent the file; NULL for a file copied into landing"),
)
