"""BG/NBD (Fader, Hardie and Lee 2005) and Gamma-Gamma (Fader, Hardie and Lee 2005,
"RFM and CLV: using iso-value curves") fitted by maximum likelihood.

Every customer is summarised as
    x    repeat purchases in the calibration period (purchases after the first),
    t_x  time from the first to the last purchase,
    T    time from the first purchase to the end of calibration,
    m    average spend of the x repeat purchases (Gamma-Gamma only, customers with x > 0),
all times in one unit (the published CDNOW fits use weeks).

The likelihoods are written out here rather than taken from a library: `lifetimes` is
unmaintained and fails on current pandas, and PyMC-Marketing brings a probabilistic
programming stack for what is a four-parameter optimisation (see DECISIONLOG.md).
Customers with identical (x, t_x, T) are fitted once with a weight, which makes the fit
cost depend on the number of distinct histories, not of customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


class FitError(RuntimeError):
    """The optimiser did not converge, or the data cannot identify the model."""


# Shape parameters (dimensionless) beyond these bounds mean the likelihood kept rising
# towards the edge of the parameter space: with little or short history the optimum is
# a limit (no drop-out at all, say), not an estimate, and its predictions are artefacts.
# Scale parameters (alpha, gamma) carry the data's units and are not checked.
SHAPE_BOUNDS = (1e-4, 1e4)


def _check_identified(what: str, shapes: dict[str, float]) -> None:
    low, high = SHAPE_BOUNDS
    runaway = {name: value for name, value in shapes.items() if not low <= value <= high}
    if runaway:
        described = ", ".join(f"{name} = {value:.3g}" for name, value in runaway.items())
        raise FitError(
            f"{what}: the maximum lies at the edge of the parameter space ({described}); "
            "the purchase history is too small, too short or too uniform to estimate the model"
        )


@dataclass(frozen=True)
class BgNbdParameters:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    # Customers in the fit (with and without repeat purchases).
    sample_size: int


@dataclass(frozen=True)
class GammaGammaParameters:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    # Customers in the fit: those with at least one repeat purchase of positive value.
    sample_size: int


def _as_arrays(*columns) -> list[np.ndarray]:
    return [np.asarray(column, dtype=float) for column in columns]


def _check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (len(x) == len(t_x) == len(T)):
        raise ValueError("x, t_x and T must have the same length")
    if len(x) == 0:
        raise FitError("no customers to fit")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T <= 0):
        raise ValueError("x and t_x must be >= 0 and T > 0 for every customer")
    if np.any(t_x > T + 1e-9):
        raise ValueError("t_x (first to last purchase) cannot exceed T (first purchase to end of calibration)")
    if np.any((x == 0) & (t_x > 0)):
        raise ValueError("a customer without repeat purchases must have t_x = 0")


def _collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given columns and how many customers share each."""
    stacked = np.column_stack(columns)
    distinct, counts = np.unique(stacked, axis=0, return_counts=True)
    return [distinct[:, i] for i in range(distinct.shape[1])], counts.astype(float)


def bgnbd_log_likelihood(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood under BG/NBD (FHL 2005, equation 6)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    still_alive = -(r + x) * np.log(alpha + T)
    # Dropped out right after the last purchase; only possible after a repeat purchase.
    has_repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[has_repeat] = (
        np.log(a) - np.log(b + x[has_repeat] - 1) - (r + x[has_repeat]) * np.log(alpha + t_x[has_repeat])
    )
    return common + np.logaddexp(still_alive, dropped)


def _maximise(negative_log_likelihood, start: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """Minimise over log-parameters (keeps every parameter positive without bounds)."""
    result = optimize.minimize(
        negative_log_likelihood,
        np.log(start),
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )
    # Nelder-Mead is robust from a poor start; a gradient polish makes the optimum exact.
    polished = optimize.minimize(negative_log_likelihood, result.x, method="BFGS", options={"gtol": 1e-7})
    best = polished if polished.success and polished.fun <= result.fun else result
    if not np.isfinite(best.fun):
        raise FitError(f"{what}: the likelihood is not finite at the optimum ({best.message})")
    if not (result.success or polished.success):
        raise FitError(f"{what}: the optimiser did not converge ({best.message})")
    return np.exp(best.x), -float(best.fun)


def fit_bgnbd(x, t_x, T) -> BgNbdParameters:
    """Maximum-likelihood BG/NBD parameters for customers summarised as (x, t_x, T)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    _check_summary(x, t_x, T)
    if not np.any(x > 0):
        raise FitError("BG/NBD: nobody made a repeat purchase, so purchase rates cannot be estimated")
    (ux, ut_x, uT), weights = _collapse(x, t_x, T)

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        return -float(np.dot(weights, bgnbd_log_likelihood(r, alpha, a, b, ux, ut_x, uT)))

    # Start: a purchase every few periods (alpha near the mean of T), dropout odds ~ 1/2.
    start = np.array([1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0])
    (r, alpha, a, b), log_likelihood = _maximise(negative_log_likelihood, start, "BG/NBD")
    _check_identified("BG/NBD", {"r": r, "a": a, "b": b})
    return BgNbdParameters(
        r=float(r), alpha=float(alpha), a=float(a), b=float(b), log_likelihood=log_likelihood, sample_size=len(x)
    )


def probability_alive(params: BgNbdParameters, x, t_x, T) -> np.ndarray:
    """P(still active at T | x, t_x, T) (FHL 2005, equation 11)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    has_repeat = x > 0
    log_odds_dropped = np.full_like(x, -np.inf)
    log_odds_dropped[has_repeat] = (
        np.log(a)
        - np.log(b + x[has_repeat] - 1)
        + (r + x[has_repeat]) * (np.log(alpha + T[has_repeat]) - np.log(alpha + t_x[has_repeat]))
    )
    return np.exp(-np.logaddexp(0.0, log_odds_dropped))


def expected_purchases(params: BgNbdParameters, horizon: float, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + horizon] | x, t_x, T] (FHL 2005, equation 10)."""
    x, t_x, T = _as_arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = horizon / (alpha + T + horizon)
    hypergeometric = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    if not np.all(np.isfinite(hypergeometric)):
        raise FitError("BG/NBD: the hypergeometric term diverged for this horizon; shorten it")
    if_alive = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * hypergeometric)
    return if_alive * probability_alive(params, x, t_x, T)


def gamma_gamma_log_likelihood(p, q, gamma, x, m) -> np.ndarray:
    """Each customer's log-likelihood of an average spend m over x purchases."""
    x, m = _as_arrays(x, m)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + x * m)
    )


def fit_gamma_gamma(x, m) -> GammaGammaParameters:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' (x, average spend).

    Customers without a repeat purchase, or whose repeat purchases average zero or less
    (everything returned), carry no information on spend and are left out.
    """
    x, m = _as_arrays(x, m)
    if len(x) != len(m):
        raise ValueError("x and m must have the same length")
    usable = (x > 0) & (m > 0)
    if usable.sum() < 2:
        raise FitError("Gamma-Gamma: fewer than two customers with repeat purchases of positive value")
    (ux, um), weights = _collapse(x[usable], m[usable])

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        p, q, gamma = np.exp(log_params)
        return -float(np.dot(weights, gamma_gamma_log_likelihood(p, q, gamma, ux, um)))

    start = np.array([1.0, 2.0, float(np.mean(um))])
    (p, q, gamma), log_likelihood = _maximise(negative_log_likelihood, start, "Gamma-Gamma")
    _check_identified("Gamma-Gamma", {"p": p, "q": q})
    if q <= 1:
        raise FitError("Gamma-Gamma: q <= 1, so the expected spend is infinite; spend varies too much to model")
    return GammaGammaParameters(
        p=float(p), q=float(q), gamma=float(gamma), log_likelihood=log_likelihood, sample_size=int(usable.sum())
    )


def expected_average_spend(params: GammaGammaParameters, x, m) -> np.ndarray:
    """E[spend per purchase | x, m]: a weighted mean of the population mean and the
    customer's own average (equation 5 of the iso-value paper); the population mean for
    customers without repeat purchases."""
    x, m = _as_arrays(x, m)
    p, q, gamma = params.p, params.q, params.gamma
    own = np.where(x > 0, np.nan_to_num(m), 0.0)
    weight_population = (q - 1) / (p * x + q - 1)
    return weight_population * (p * gamma / (q - 1)) + (1 - weight_population) * own
