"""The bias of estimates after an outcome-triggered 复核, by seeded simulation.

A 复核 starts because phase 1 looked low. Given that it started, the phase-1 estimate is biased
low: the trigger selects samples that happened to be low. The two-phase estimate of
:func:`~quchi_stats.followup.final.two_phase_estimates` counts the phase-1 villages with
certainty (given phase 1 they are in the sample) and the new villages by their exact conditional
probabilities ``π2|1`` among the unvisited ones:

    T̂ = Σ_{s1} ŷ_i + Σ_{s2} ŷ_j / π2|1(j).

For every phase-1 sample, the second term is unbiased for the total of the villages phase 1 did
not visit (phase 2 is a probability sample of them, drawn whatever phase 1 showed), so
``E[T̂ | phase 1] = Σ_{s1} ŷ_i + Σ_{not s1} Y_j``: the only phase-1 error ``T̂`` keeps is the
household sampling inside the visited villages, ``Σ_{s1} (ŷ_i − Y_i)``. It is zero where a
village's frame is taken whole (many registered and exited frames are), small where most of it is.

:func:`simulate_two_phase_bias` measures this on one town held fixed (a finite population:
villages with fixed sizes and good counts), under repeated phase-1 draws (πps systematic
villages, households without replacement), a trigger on the phase-1 estimate, and phase-2 draws
from the unvisited villages. It reports, over the replicates that triggered, the mean error of
the phase-1 estimate, of the two-phase estimate and of a naive pooled estimate that weights the new
villages by the "either phase" probability ``π1 + (1 − π1) π2|1`` and the old ones by ``π1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ParameterError, check_int
from ..sampling.selection import inclusion_probabilities, select

__all__ = ["BiasResult", "simulate_two_phase_bias"]


@dataclass(frozen=True)
class BiasResult:
    """Per-replicate errors (``estimates``: one row per replicate that triggered a follow-up,
    columns ``total_phase1``, ``total_two_phase``, ``rate_phase1``, ``rate_two_phase``,
    ``rate_naive``, all minus the truth) and ``summary`` (mean, Monte Carlo SE and mean/SE of
    each), ``triggered`` (the share of replicates that triggered), the ``truth`` rate and
    ``rate_phase1_all`` (the phase-1 rate's mean error over every replicate)."""

    estimates: pd.DataFrame
    summary: pd.DataFrame
    triggered: float
    truth: float
    rate_phase1_all: float
    rate_phase1_all_se: float


def simulate_two_phase_bias(sizes: np.ndarray, good: np.ndarray, *, villages1: int,
                            villages2: int, households: int | None, trigger: tuple[float, float],
                            reps: int, seed: int) -> BiasResult:
    """Simulate an outcome-triggered 复核 of one town and the errors of its estimates.

    Parameters
    ----------
    sizes, good : arrays
        Each village's frame size ``N_i`` (also its πps size) and number of good households
        ``Y_i`` (the finite population, fixed across replicates).
    villages1, villages2 : int
        Villages drawn in phase 1 (πps systematic on ``sizes``) and in phase 2 (the same, among
        the unvisited villages; all of them when fewer remain).
    households : int or None
        Households per village (without replacement); None takes each village's frame whole.
    trigger : (low, high)
        A follow-up starts when ``low < phase-1 rate <= high`` (a stand-in for the rule's
        continuation region; any trigger computed from phase 1 gives the same property).
    reps, seed : int
        Replicates and the seed of a fresh generator.
    """
    func = "simulate_two_phase_bias"
    reps = check_int("reps", reps, func, minimum=1)
    seed = check_int("seed", seed, func, minimum=0)
    sizes = np.asarray(sizes, np.int64)
    good = np.asarray(good, np.int64)
    if sizes.shape != good.shape or (good > sizes).any() or (good < 0).any() or (sizes < 1).any():
        raise ParameterError(f"The 'good' parameter of {func} must hold counts between 0 and the "
                             f"village sizes. Got {good.tolist()} for sizes {sizes.tolist()}.")
    if not 0 < villages1 < sizes.size:
        raise ParameterError(f"The 'villages1' parameter of {func} must be in [1, {sizes.size - 1}]."
                             f" Got {villages1}.")
    rng = np.random.default_rng(seed)
    Y, N = float(good.sum()), float(sizes.sum())
    truth = Y / N
    rows, all1 = [], np.empty(reps)
    pi1_all = inclusion_probabilities(sizes.astype(float), villages1)

    def sample(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = sizes[idx] if households is None else np.minimum(households, sizes[idx])
        y = rng.hypergeometric(good[idx], sizes[idx] - good[idx], n)
        return sizes[idx] / n * y, sizes[idx].astype(float)  # village estimate ŷ_i, N_i

    for r in range(reps):
        s1 = select("pps_systematic", sizes.astype(float), villages1, rng)
        y1, m1 = sample(s1.indices)
        pi1 = s1.pi[s1.indices]
        rate1 = (y1 / pi1).sum() / (m1 / pi1).sum()
        all1[r] = rate1 - truth
        if not trigger[0] < rate1 <= trigger[1]:
            continue
        left = np.setdiff1d(np.arange(sizes.size), s1.indices)
        s2 = select("pps_systematic", sizes[left].astype(float), min(villages2, left.size), rng)
        y2, m2 = sample(left[s2.indices])
        pi2 = s2.pi[s2.indices]
        ty = y1.sum() + (y2 / pi2).sum()
        tm = m1.sum() + (m2 / pi2).sum()
        # π1 of the new villages under the phase-1 design (they were not drawn then)
        pc = pi1_all[left[s2.indices]] + (1 - pi1_all[left[s2.indices]]) * pi2
        naive = ((y1 / pi1).sum() + (y2 / pc).sum()) / ((m1 / pi1).sum() + (m2 / pc).sum())
        rows.append({"total_phase1": (y1 / pi1).sum() - Y, "total_two_phase": ty - Y,
                     "rate_phase1": rate1 - truth, "rate_two_phase": ty / tm - truth,
                     "rate_naive": naive - truth})
    est = pd.DataFrame(rows, columns=["total_phase1", "total_two_phase", "rate_phase1",
                                      "rate_two_phase", "rate_naive"])
    n = len(est)
    mean = est.mean()
    se = est.std(ddof=1) / np.sqrt(max(n, 1))
    summary = pd.DataFrame({"mean_error": mean, "mc_se": se, "z": mean / se})
    return BiasResult(est, summary, n / reps, truth, float(all1.mean()),
                      float(all1.std(ddof=1) / np.sqrt(reps)))
