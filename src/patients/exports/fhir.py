"""A patient's record as an HL7 FHIR R4 Bundle: what a records request hands over.

The Bundle holds the Patient, every Appointment (with its provider and outcome) and every
survey answer as a QuestionnaireResponse, and is validated with ``fhir.resources`` before
it leaves. ``rapport import fhir`` reads it back (patient and appointments), so a practice
moving to another Rapport keeps the history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from core.links import absolute_url
from feedback.fhir import response_to_questionnaire_response
from patients.models import Appointment, Patient

STATUS = {
    Appointment.Status.SCHEDULED: "booked",
    Appointment.Status.COMPLETED: "fulfilled",
    Appointment.Status.CANCELLED: "cancelled",
    Appointment.Status.NO_SHOW: "noshow",
}


def _patient_id(patient: Patient) -> str:
    return patient.fhir_id or f"rapport-{patient.pk}"


def patient_resource(patient: Patient) -> dict[str, Any]:
    practice = patient.practice
    system = absolute_url(f"/fhir/practice/{practice.organisation.slug}/{practice.slug}")
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _patient_id(patient),
        # The practice's own id for the patient, so a re-import finds the same person.
        "identifier": [{"system": system, "value": patient.external_id or str(patient.pk)}],
        "active": patient.status == Patient.Status.ACTIVE,
        "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
    }
    if patient.preferred_name:
        resource["name"].append({"use": "usual", "given": [patient.preferred_name]})
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.date_of_birth:
        resource["birthDate"] = patient.date_of_birth.isoformat()
    if patient.address or patient.city or patient.postal_code:
        address = {"line": [patient.address]} if patient.address else {}
        address |= {"city": patient.city} if patient.city else {}
        address |= {"postalCode": patient.postal_code} if patient.postal_code else {}
        resource["address"] = [address]
    return resource


def appointment_resource(appointment: Appointment, patient_id: str) -> dict[str, Any]:
    start = appointment.starts_at
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}
    ]
    if appointment.provider is not None:
        participants.append(
            {
                "actor": {"display": appointment.provider.name},
                "type": [{"coding": [{"code": "PPRF", "display": "primary performer"}]}],
                "status": "accepted",
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": f"rapport-appointment-{appointment.pk}",
        "status": STATUS[appointment.status],
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=appointment.duration_minutes)).isoformat(),
        "participant": participants,
    }
    if appointment.kind:
        resource["appointmentType"] = {"text": appointment.kind}
    return resource


def patient_bundle(patient: Patient) -> dict[str, Any]:
    """The patient's record as a validated R4 ``collection`` Bundle."""
    patient_id = _patient_id(patient)
    resources = [patient_resource(patient)]
    appointments = patient.appointments.select_related("provider").order_by("starts_at", "pk")
    resources += [appointment_resource(a, patient_id) for a in appointments]
    responses = patient.survey_responses.select_related("survey", "patient").order_by("pk")
    resources += [response_to_questionnaire_response(response) for response in responses]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "entry": [
            {"fullUrl": absolute_url(f"/fhir/{r['resourceType']}/{r['id']}"), "resource": r}
            for r in resources
        ],
    }
    Bundle.model_validate(bundle)
    return bundle
