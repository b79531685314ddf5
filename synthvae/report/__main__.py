"""`python -m synthvae.report [PATH]`: write report.json's JSON Schema, generated from
RunReport (default: schemas/report.schema.json)."""

import sys
from pathlib import Path

from .run_report import SCHEMA_FILE, json_schema_text

target = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_FILE
target.write_text(json_schema_text())
print(f"wrote {target}")
