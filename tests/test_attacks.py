"""The attacks' own rules, apart from the report that runs them (tests/test_privacy.py runs
them on real Adult rows, copied and independent)."""

import numpy as np

from synthvae.evaluation.attacks import _guessed


def test_an_infinite_secret_is_guessed_only_by_itself():
    # inf lies within 5% of inf by the relative rule, so the rule alone would credit any guess
    guesses, secrets = np.array([5.0, np.inf]), np.array([np.inf, np.inf])
    assert list(_guessed(guesses, secrets, True)) == [False, True]
