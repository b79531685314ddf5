"""What a run reports: `RunReport` (report.json, typed, with its JSON Schema) and the HTML page
a reviewer reads (`synthvae.report.html`)."""

from .run_report import REPORT_VERSION, RunReport

__all__ = ["REPORT_VERSION", "RunReport"]
