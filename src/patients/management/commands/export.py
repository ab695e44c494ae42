"""``rapport export fhir --patient ID``: print a patient's record as a FHIR R4 Bundle."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.services import audit_record
from patients.exports.fhir import patient_bundle
from patients.models import Patient


class Command(BaseCommand):
    help = (
        "Print one patient's record (Patient, Appointments, survey answers) as an HL7 FHIR "
        "R4 Bundle on standard output; the export is written to the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["fhir"])
        parser.add_argument("--patient", type=int, required=True, help="the patient's id")

    def handle(self, *args, kind: str, patient: int, **options) -> None:
        found = Patient.objects.select_related("practice__organisation").filter(pk=patient)
        record = found.first()
        if record is None:
            raise CommandError(f"--patient {patient}: no such patient")
        with transaction.atomic():
            bundle = patient_bundle(record)
            audit_record(
                action="export",
                object_type="patient",
                object_id=record.pk,
                patient_id=record.pk,
                practice=record.practice,
                actor_label="command line",
                detail={"format": "fhir-r4-bundle", "entries": len(bundle["entry"])},
            )
        self.stdout.write(json.dumps(bundle, indent=2, ensure_ascii=False))
