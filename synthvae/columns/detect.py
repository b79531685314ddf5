"""Kind detection lives in `synthvae.kinds`, shared by the model, the schema draft, the scores
and the report; this name stays for code that imports it from here."""
from __future__ import annotations

from ..kinds import detect_kind

__all__ = ["detect_kind"]
