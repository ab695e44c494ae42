"""How well the loyalty risk ranks the patients who later leave, on simulated data.

    .venv/bin/python bench/bench_loyalty_eval.py --practices 10 --seed eval-1

SIMULATED: ``rapport seed --surveys`` gives every household a hidden propensity to leave
that drives its behaviour before today (more missed visits, stretching gaps, fewer next
visits booked, falling survey scores, remarks about equipment or distance), and draws from
it who leaves in the year after today (``patients.seeding.truth``). Nothing in the database
says who leaves. We wrote those behaviour rules ourselves, so these numbers say the score
reads the signals it was built for, not how it fares on a real practice's patients.

In one run, on a fresh SQLite database: seed, score everyone with ``scores_compute``, then
rank the active patients by risk, by priority, and by the naive baseline (days since the
last visit; never seen = longest), and report for each the AUC (with a 95 % interval,
Hanley & McNeil) and the precision among the top 5 %.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "src"))


def auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a random leaver outranks a random stayer (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True), key=lambda pair: pair[0])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2
        rank_sum += average_rank * sum(1 for _, label in ranked[index:end] if label)
        index = end
    positives = sum(labels)
    negatives = len(labels) - positives
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def auc_interval(value: float, positives: int, negatives: int) -> tuple[float, float]:
    q1, q2 = value / (2 - value), 2 * value * value / (1 + value)
    variance = (
        value * (1 - value)
        + (positives - 1) * (q1 - value * value)
        + (negatives - 1) * (q2 - value * value)
    ) / (positives * negatives)
    half = 1.96 * math.sqrt(variance)
    return round(value - half, 3), round(value + half, 3)


def precision_at(scores: list[float], labels: list[bool], share: float) -> float:
    top = sorted(zip(scores, labels, strict=True), key=lambda pair: -pair[0])
    count = max(1, round(len(top) * share))
    return sum(label for _, label in top[:count]) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=10)
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--seed", default="eval-1")
    args = parser.parse_args()
    os.environ["RAPPORT_VAR_DIR"] = tempfile.mkdtemp(prefix="rapport-eval-")
    os.environ.pop("RAPPORT_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from core.models import Practice
    from loyalty.models import PatientScore
    from loyalty.scoring import scores_compute
    from patients.seeding.practices import seed_practices
    from patients.seeding.truth import seed_truth_of

    call_command("migrate", verbosity=0)
    now = timezone.now()
    seed_practices(
        practices=args.practices,
        patients=args.patients,
        years=3,
        seed=args.seed,
        surveys=True,
        now=now,
    )
    scores_compute(now=now)
    rows = []
    for practice in Practice.objects.order_by("pk"):
        fates = seed_truth_of(practice)
        scores = PatientScore.objects.filter(practice=practice).values_list(
            "patient__external_id", "risk", "priority", "days_since_visit"
        )
        for external_id, risk, priority, days in scores:
            fate = fates[external_id]
            rows.append(
                (risk, priority, days if days is not None else 10**6, fate.leaves_on is not None)
            )
    labels = [row[3] for row in rows]
    positives = sum(labels)
    report = {
        "simulated": True,
        "seed": args.seed,
        "patients_scored": len(rows),
        "leave_within_a_year": positives,
        "base_rate": round(positives / len(rows), 3),
    }
    for name, column in (("risk", 0), ("priority", 1), ("baseline_days_since_visit", 2)):
        scores = [float(row[column]) for row in rows]
        value = auc(scores, labels)
        report[name] = {
            "auc": round(value, 3),
            "auc_95": auc_interval(value, positives, len(rows) - positives),
            "precision_top_5pct": round(precision_at(scores, labels, 0.05), 3),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
