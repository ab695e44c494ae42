"""CSV imports of patients and appointments (``rapport import patients|appointments FILE``).

The file contract lives in docs/import-csv.md. In short: UTF-8, comma-separated, a header row;
every bad record is reported as ``FILE:LINE: reason`` with the physical line where the record
starts; by default one bad record means nothing is stored, with ``skip_invalid`` the good
records are stored in one transaction and the bad ones are listed. Re-imports match on
(practice, external_id), so running the same file twice changes nothing.

reading.py checks the file and yields its records, fields.py checks one record's values,
patients.py and appointments.py import each kind, writing.py and fast_insert.py store rows.
"""

from patients.imports.csv.appointments import import_appointments_csv
from patients.imports.csv.patients import import_patients_csv

__all__ = ["import_appointments_csv", "import_patients_csv"]
