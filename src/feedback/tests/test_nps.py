import pytest

from feedback.selectors import Nps


def test_nps_is_promoters_minus_detractors_in_percent():
    nps = Nps(promoters=5, passives=3, detractors=2)
    assert nps.answers == 10
    assert nps.score == pytest.approx(30.0)


def test_margin_of_error_is_the_95_percent_half_width():
    # p = 0.5, d = 0.2: variance = 0.5 + 0.2 − 0.3² = 0.61; 1.96·√(0.61/10)·100 = 48.4
    nps = Nps(promoters=5, passives=3, detractors=2)
    assert nps.margin == pytest.approx(48.41, abs=0.01)


def test_margin_shrinks_with_more_answers():
    assert Nps(50, 30, 20).margin < Nps(5, 3, 2).margin


def test_no_answers_no_score():
    assert Nps(0, 0, 0).score is None
    assert Nps(1, 0, 0).margin is None


def test_all_promoters_has_no_spread():
    assert Nps(40, 0, 0).score == 100
    assert Nps(40, 0, 0).margin == 0
