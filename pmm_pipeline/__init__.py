"""pmm_pipeline: the WCO Performance Measurement Mechanism's data platform."""

import os

# openpyxl parses workbooks with lxml whenever lxml is installed (pysdmx[xml] brings it), and then resolves XML
# entities instead of refusing them through defusedxml: a received workbook could expand a billion laughs or read
# a local file. openpyxl reads this switch once, when it is first imported, so it is set before any module of the
# package can import openpyxl; stages/ingestion/xlsx_workbook.py refuses to read a workbook if it did not hold.
os.environ["OPENPYXL_LXML"] = "False"
