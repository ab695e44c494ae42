"""``rapport score`` and the re-scoring after ``rapport import``."""

import io
import re

import pytest
import time_machine
from django.core.management import CommandError, call_command

from loyalty.models import PatientScore
from loyalty.rules import RULES
from loyalty.tests.factories import NOW, appointment, nps_answer
from patients.models import Patient
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("score", "--no-progress", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def everyone(patient, practice, sister_patient, other_patient):
    """Two patients at Maple (one departed), one at the sister practice, one elsewhere."""
    PatientFactory(practice=practice, status=Patient.Status.DEPARTED)
    nps_answer(patient, 5, days=3)
    return patient


def test_score_prints_a_one_line_summary_for_every_practice(
    everyone, sister_patient, other_patient
):
    out = run()

    assert re.fullmatch(r"score: 3 patients scored in 3 practices in \d+\.\d s\n", out), out
    assert set(PatientScore.objects.values_list("patient_id", flat=True)) == {
        everyone.pk,
        sister_patient.pk,
        other_patient.pk,
    }
    row = PatientScore.objects.get(patient=everyone)
    assert (row.scored_at, row.last_nps, row.risk) == (NOW, 5, 25)


def test_score_one_practice_by_slug(everyone):
    out = run("--practice", "maple")

    assert re.fullmatch(r"score: 1 patient scored in Maple Street Dental in \d+\.\d s\n", out), out
    assert list(PatientScore.objects.values_list("patient_id", flat=True)) == [everyone.pk]


def test_score_one_practice_by_organisation_and_slug(everyone, sister_patient):
    out = run("--practice", "smiles-group/harbor")

    assert out.startswith("score: 1 patient scored in Harbor Dental in ")
    assert list(PatientScore.objects.values_list("patient_id", flat=True)) == [sister_patient.pk]


def test_an_unknown_practice_is_a_command_error(everyone):
    with pytest.raises(CommandError, match="--practice nowhere: no such practice"):
        run("--practice", "nowhere")
    assert not PatientScore.objects.exists()


def test_running_again_only_refreshes(everyone):
    run()
    first = list(PatientScore.objects.order_by("patient_id").values())

    assert run().startswith("score: 3 patients scored")
    assert list(PatientScore.objects.order_by("patient_id").values()) == first


def test_an_import_rescores_the_practice(tmp_path, practice, sister_patient):
    patient = PatientFactory(practice=practice, external_id="P1")
    appointment(patient, 400)
    path = tmp_path / "appointments.csv"
    path.write_text(
        "external_id,patient_external_id,starts_at,status,fee\n"
        "A1,P1,2026-02-10T09:00,no-show,0\n"
        "A2,P1,2026-03-10T09:00,cancelled,0\n"
    )

    with time_machine.travel(NOW, tick=False):
        call_command(
            "import", "appointments", str(path), "--practice", "maple", "--no-progress",
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip

    row = PatientScore.objects.get(patient=patient)
    assert (row.visits, row.missed_recent, row.booked_recent, row.scored_at) == (1, 2, 2, NOW)
    fired = ("missing_visits", "nothing_booked", "overdue")
    assert row.risk == sum(RULES[name].points for name in fired)
    assert not PatientScore.objects.filter(patient=sister_patient).exists()
