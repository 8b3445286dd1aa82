"""LQAS classification of towns when the spot-check was an LQAS design (n households per town,
decision rule d): a town whose successes reach ``d`` is accepted (达标), otherwise not. The values are
:class:`~quchi_stats.labels.LqasClass` codes; readers see :data:`~quchi_stats.labels.LQAS_LABELS`."""

from __future__ import annotations

import numpy as np

from ..labels import LqasClass

__all__ = ["lqas_classify"]


def lqas_classify(successes: np.ndarray, n: np.ndarray, d: int, n_design: int) -> np.ndarray:
    """``"accepted"`` (达标) when ``successes >= d``; ``"rejected"`` (未达标) otherwise;
    ``"short_sample"`` (样本不足) when fewer than ``n_design`` households were assessed (the rule's
    risks no longer hold). Codes of :class:`~quchi_stats.labels.LqasClass`.

    Examples
    --------
    >>> lqas_classify([13, 12, 15], [19, 19, 17], d=13, n_design=19).tolist()
    ['accepted', 'rejected', 'short_sample']
    """
    s = np.asarray(successes)
    n = np.asarray(n)
    return np.where(n < n_design, LqasClass.SHORT_SAMPLE.value,
                    np.where(s >= d, LqasClass.ACCEPTED.value, LqasClass.REJECTED.value))
