"""Reports (PDF), CSV and FHIR R4 exports of stored results. See docs/reports.md."""

from .export import CSV_COLUMNS, Pseudonymizer, fhir_bundle, result_rows, to_csv

__all__ = ["CSV_COLUMNS", "Pseudonymizer", "fhir_bundle", "result_rows", "to_csv"]
