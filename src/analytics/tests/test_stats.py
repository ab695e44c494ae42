"""The statistics against values worked out by hand (z = 1.96 throughout)."""

import pytest

from analytics.stats import (
    MIN_ANSWERS,
    CaseMix,
    Nps,
    Proportion,
    case_mix_note,
    ces,
    csat,
    is_greyed,
    ranked,
    wilson_interval,
)
from feedback import selectors as feedback_selectors


def test_nps_and_its_margin():
    nps = Nps(promoters=60, passives=25, detractors=15)

    # n = 100, p = 0.60, d = 0.15: NPS = 100 × (0.60 − 0.15) = 45.
    assert nps.score == pytest.approx(45.0)
    # variance = p + d − (p − d)² = 0.75 − 0.2025 = 0.5475;
    # margin = 100 × 1.96 × √(0.5475 / 100) = 100 × 1.96 × 0.0739932 = 14.5027.
    assert nps.margin == pytest.approx(14.5027, abs=1e-4)
    assert (nps.low, nps.high) == pytest.approx((30.4973, 59.5027), abs=1e-4)


def test_nps_interval_stays_within_minus_100_and_100():
    nps = Nps(promoters=27, passives=2, detractors=1)

    # n = 30, p = 0.9, d = 1/30: NPS = 86.667; variance = 0.93333 − 0.75111 = 0.18222;
    # margin = 100 × 1.96 × √(0.18222 / 30) = 100 × 1.96 × 0.077936 = 15.2755.
    assert nps.margin == pytest.approx(15.2755, abs=1e-4)
    assert nps.high == 100.0  # 86.667 + 15.276 = 101.9, cut at 100
    assert nps.low == pytest.approx(71.3911, abs=1e-4)


def test_nps_without_enough_answers_has_no_margin():
    assert Nps(0, 0, 0).score is None
    assert (Nps(1, 0, 0).margin, Nps(1, 0, 0).low, Nps(1, 0, 0).high) == (None, None, None)


def test_feedback_reads_the_same_nps():
    # The maths moved here; feedback's callers keep their name for it.
    assert feedback_selectors.Nps is Nps
    assert feedback_selectors.Nps(5, 3, 2).margin == pytest.approx(48.41, abs=0.01)


def test_nps_adds_up():
    assert Nps(1, 2, 3) + Nps(10, 20, 30) == Nps(11, 22, 33)


def test_wilson_interval_of_8_out_of_10():
    low, high = wilson_interval(8, 10)

    # p = 0.8, z² = 3.8416, 1 + z²/n = 1.38416;
    # centre = (0.8 + 3.8416/20) / 1.38416 = 0.99208 / 1.38416 = 0.716738;
    # half = 1.96 / 1.38416 × √(0.8 × 0.2 / 10 + 3.8416 / 400)
    #      = 1.416021 × √0.025604 = 1.416021 × 0.160012 = 0.226581.
    assert (low, high) == pytest.approx((0.490157, 0.943319), abs=1e-6)


def test_wilson_interval_is_not_zero_wide_at_the_extremes():
    # 0 of 10: centre = 0.19208 / 1.38416 = 0.138771, half = 1.416021 × √0.009604 = 0.138770.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277541), abs=1e-6)
    # 30 of 30: centre = (1 + 3.8416/60) / 1.128053 = 0.943242, half = 1.737513 × 0.032667
    #         = 0.056759.
    assert wilson_interval(30, 30) == pytest.approx((0.886483, 1.0), abs=1e-6)
    assert wilson_interval(0, 0) is None


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and total"):
        wilson_interval(11, 10)


def test_csat_and_ces_are_proportions_with_wilson_bounds():
    satisfaction = csat(45, 60)

    # p = 0.75, z²/n = 0.064027, 1 + z²/n = 1.064027;
    # centre = (0.75 + 0.032013) / 1.064027 = 0.734956;
    # half = 1.96 / 1.064027 × √(0.1875/60 + 3.8416/14400) = 1.842058 × 0.058239 = 0.107279.
    assert satisfaction.percent == pytest.approx(75.0)
    assert (satisfaction.low, satisfaction.high) == pytest.approx((62.7677, 84.2236), abs=1e-4)
    effort = ces(8, 10)
    assert (effort.low, effort.high) == pytest.approx((49.0157, 94.3319), abs=1e-4)
    assert Proportion(0, 0).percent is None and Proportion(0, 0).low is None


def test_figures_below_the_minimum_are_greyed():
    assert MIN_ANSWERS == 30
    assert is_greyed(29) and not is_greyed(30)
    assert Nps(20, 5, 4).is_greyed  # 29 answers
    assert not Nps(20, 5, 5).is_greyed  # 30
    assert csat(29, 29).is_greyed and not csat(0, 30).is_greyed


def test_greyed_figures_are_never_ranked():
    practices = [
        ("north", Nps(40, 10, 10)),  # 60 answers, NPS 50
        ("tiny", Nps(9, 0, 0)),  # 9 answers, NPS 100: greyed
        ("south", Nps(20, 10, 30)),  # 60 answers, NPS −16.7
        ("west", Nps(40, 10, 10)),  # 60 answers, NPS 50: a tie
        ("none", Nps(0, 0, 0)),
    ]

    order = ranked(practices, figure=lambda p: p[1].score, answers=lambda p: p[1].answers)

    assert [(rank, name) for rank, (name, _nps) in order] == [
        (1, "north"),
        (1, "west"),
        (3, "south"),
        (None, "tiny"),
        (None, "none"),
    ]


def test_case_mix_note():
    group = CaseMix(new_patients=120, patients_seen=1000)  # 12% new

    assert case_mix_note(CaseMix(0, 0)) == "No completed visits in this period: case mix unknown."
    assert case_mix_note(CaseMix(15, 100)) == "15% of patients seen were new, 85% returning."
    assert case_mix_note(CaseMix(15, 100), reference=group) == (
        "15% of patients seen were new, 85% returning, close to the group's 12% new."
    )
    assert case_mix_note(CaseMix(35, 100), reference=group) == (
        "35% of patients seen were new, 65% returning: more new patients than the group's 12%;"
        " compare satisfaction figures with care."
    )
    assert CaseMix(35, 100).recall_patients == 65
    assert (CaseMix(1, 2) + CaseMix(3, 4)).new_share == Proportion(4, 6)
