"""The list the field teams take to the villages: drawn households in visiting order.

Personal data (户主姓名, 证件号码, 联系电话) is joined from the register only with
``include_personal_data=True`` (the command's ``--include-personal-data``); by default the list has
household ids only, which the teams match against the register kept by the town.
"""

from __future__ import annotations

import pandas as pd

from ..errors import DataError
from ..io.schema import ensure_no_personal_columns

__all__ = ["field_list"]


def field_list(sample: pd.DataFrame, register: pd.DataFrame, *,
               include_personal_data: bool = False) -> pd.DataFrame:
    """Primary households, then reserves in ``reserve_rank`` order, per village and frame (and,
    in a risk-oversampled draw, per sub-frame: the ``risk`` column says which reserves replace a
    risk household).

    Examples
    --------
    >>> from quchi_stats.datasets import load_fieldwork, load_register
    >>> sample, _ = load_fieldwork(2018)
    >>> fl = field_list(sample, load_register(2018))
    >>> sorted(set(fl.columns) & {"head_name", "id_number", "phone"})
    []
    """
    cols = ["town", "village", "frame", "role", "reserve_rank", "household_id", "household_size"]
    if "risk" in sample:  # a risk-oversampled draw: a risk household's reserves are risk households
        cols.insert(3, "risk")
    out = sample[cols].copy()
    unknown = ~out["household_id"].isin(register["household_id"])
    if unknown.any():
        raise DataError(f"样本中的户编号“{out.loc[unknown, 'household_id'].iloc[0]}”不在农户台账中")
    if include_personal_data:
        personal = [c for c in ("head_name", "id_number", "phone") if c in register]
        out = out.merge(register[["household_id", *personal]], on="household_id", how="left")
    if not include_personal_data:
        ensure_no_personal_columns(out.columns, "入户名单")
    return out.reset_index(drop=True)
