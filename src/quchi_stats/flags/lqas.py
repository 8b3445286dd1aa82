"""LQAS classification of towns when the spot-check was an LQAS design (n households per town,
decision rule d): a town whose successes reach ``d`` is accepted (达标), otherwise not."""

from __future__ import annotations

import numpy as np

__all__ = ["lqas_classify"]


def lqas_classify(successes: np.ndarray, n: np.ndarray, d: int, n_design: int) -> np.ndarray:
    """``"达标"`` when ``successes >= d``; ``"未达标"`` otherwise; ``"样本不足"`` when fewer than
    ``n_design`` households were assessed (the rule's risks no longer hold).

    Examples
    --------
    >>> lqas_classify([13, 12, 15], [19, 19, 17], d=13, n_design=19).tolist()
    ['达标', '未达标', '样本不足']
    """
    s = np.asarray(successes)
    n = np.asarray(n)
    return np.where(n < n_design, "样本不足", np.where(s >= d, "达标", "未达标"))
