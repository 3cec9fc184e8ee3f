"""danneal.detan reproduces detan's README example and never produces NaN."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import danneal
from danneal.detan import AssignmentAnnealing, assignment_expectations, assignment_iteration, assignment_potential

# detan's README example: upper triangle, then D + D.T
UPPER = np.asarray(
    (
        (0.0, 2.1, 0.10, 0.85, 0.2, 0.78),
        (0.0, 0.0, 0.92, 0.05, 1.01, 0.01),
        (0.0, 0.0, 0.0, 2.02, 0.15, 0.99),
        (0.0, 0.0, 0.0, 0.0, 1.30, 0.31),
        (0.0, 0.0, 0.0, 0.0, 0.0, 1.05),
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    )
)
DISTANCES = UPPER + UPPER.T

# What detan prints for annealer.assignments (its README)
EXPECTED = np.array(
    [
        [3.29633866e-151, 1],
        [1, 2.21285560e-174],
        [1.18723351e-162, 1],
        [1, 3.17951854e-163],
        [1.80615908e-132, 1],
        [1, 1.40074506e-107],
    ]
)


def initial_assignments():
    state = np.random.get_state()
    try:
        np.random.seed(4)
        M = 0.5 + 0.1 * (np.random.random((6, 2)) - 0.5)
    finally:
        np.random.set_state(state)
    return M / np.tile(M.sum(1), (2, 1)).T


def run_readme_example(n_cool=20):
    init = initial_assignments()
    annealer = AssignmentAnnealing(assignment_iteration(DISTANCES), init, 0.73)
    old = init
    for _ in range(n_cool):
        for new in annealer:
            assert np.isfinite(new).all()
            if np.abs(new - old).max() < 1e-6:
                break
            old = new
        annealer.cool()
    return annealer


def detan_potential(assignments, distances):
    """detan's formula written out (numpy), for comparison."""
    n, k = assignments.shape
    mdm = assignments.T @ distances @ assignments
    sum_m1 = np.outer(np.ones(n), assignments.sum(0)) - assignments
    outer = distances @ assignments - (1 / (2 * sum_m1)) * np.outer(np.ones(n), np.diag(mdm))
    return outer / (sum_m1 + 1)


def test_readme_example_reproduces_printed_assignments():
    annealer = run_readme_example()
    Q = annealer.assignments
    # column order is free: match the columns to the expected ones
    if Q[0, 0] > 0.5:
        Q = Q[:, ::-1]
    assert_allclose(Q, EXPECTED, rtol=1e-8, atol=0)
    assert annealer.temperature == pytest.approx(0.73**20)


def test_cooling_100_more_steps_never_nan():
    annealer = run_readme_example(n_cool=120)
    assert np.isfinite(annealer.assignments).all()
    assert_allclose(annealer.assignments.sum(1), 1)
    labels = annealer.assignments.argmax(1)
    assert len(set(labels[[0, 2, 4]])) == 1 and len(set(labels[[1, 3, 5]])) == 1
    assert labels[0] != labels[1]


def test_potential_matches_detan_formula(rng):
    Q = rng.random((6, 3)) + 0.1
    Q /= Q.sum(1, keepdims=True)
    assert_allclose(assignment_potential(Q, DISTANCES), detan_potential(Q, DISTANCES), rtol=1e-12)


def test_expectations_match_detan_where_detan_is_finite(rng):
    H = rng.standard_normal((5, 4))
    T = 0.7
    E = np.exp(-H / T)
    assert_allclose(assignment_expectations(H, T), E / E.sum(1, keepdims=True), rtol=1e-12)
    # where detan overflows (exp(1000)) we stay finite
    P = assignment_expectations(H * 1e4, 1e-3)
    assert np.isfinite(P).all()
    assert_allclose(P.sum(1), 1)


def test_cool_and_reheat_semantics():
    init = initial_assignments()
    ann = AssignmentAnnealing(assignment_iteration(DISTANCES), init, 0.5)
    assert ann.temperature == 1 and ann.ratio == 0.5 and ann.assignments is init
    first = next(ann)
    ann.cool()
    assert ann.temperature == 0.5
    next(ann)
    ann.reheat()
    assert ann.temperature == 1 and ann.assignments is first
    ann.ratio = 1.5
    with pytest.raises(ValueError, match="ratio"):
        ann.cool()


def test_top_level_reexports():
    assert danneal.AssignmentAnnealing is AssignmentAnnealing
    assert danneal.assignment_iteration is assignment_iteration


@pytest.mark.parametrize(
    "D,match",
    [
        (np.ones((3, 4)), "square"),
        (np.array([[0, 1.0], [2.0, 0]]), "symmetric"),
        (np.array([[1.0, 1], [1, 0]]), "diagonal"),
        (np.array([[0, -1.0], [-1.0, 0]]), ">= 0"),
        (np.array([[0, np.nan], [np.nan, 0]]), "NaN"),
        (np.zeros((0, 0)), "empty"),
    ],
)
def test_bad_distances(D, match):
    with pytest.raises(ValueError, match=match):
        assignment_iteration(D)


def test_bad_closure_arguments():
    f = assignment_iteration(DISTANCES)
    with pytest.raises(ValueError, match="rows"):
        f(np.full((5, 2), 0.5), 1.0)
    with pytest.raises(ValueError, match="T="):
        f(np.full((6, 2), 0.5), 0.0)
    with pytest.raises(ValueError, match="temperature_ratio"):
        AssignmentAnnealing(f, np.full((6, 2), 0.5), 1.0)


def test_caller_arrays_untouched():
    D = DISTANCES.copy()
    Q = initial_assignments()
    Q0 = Q.copy()
    assignment_iteration(D)(Q, 0.5)
    assignment_potential(Q, D)
    assert_allclose(D, DISTANCES, rtol=0)
    assert_allclose(Q, Q0, rtol=0)


def test_float32_and_fortran_inputs():
    f = assignment_iteration(np.asfortranarray(DISTANCES.astype(np.float32)))
    out = f(initial_assignments(), 0.5)
    assert out.dtype == np.float32 and np.isfinite(out).all()
