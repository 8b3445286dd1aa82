"""``SurveyDesign``: the column names of a complex sample, bound to its data and validated once.

As in R ``survey``'s ``svydesign``, one object carries strata, primary sampling units (PSUs), weights
and finite population corrections; every estimator of :mod:`quchi_stats.estimation` takes it. The
object is frozen: the codes and counts every variance computation needs are derived once, here.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError, QuchiStatsWarning, check_choice

__all__ = ["LONELY_PSU", "SurveyDesign"]

#: What to do with a stratum that has a single PSU (R ``survey``'s ``survey.lonely.psu``).
LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")


def _arrow_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For strings held by pyarrow (pandas' ``str`` or ``string[pyarrow]``): codes in order of
    first appearance (−1 where missing) from pyarrow's own hash, the distinct strings sorted,
    and ``rank`` turning a code into its sorted position (``rank[-1] == -1``). None for other
    columns. Cheaper than ``pd.factorize(sort=True)``, which adds passes over the rows to sort
    the codes: callers that need sorted codes per row apply ``rank``, others only per group."""
    array = values.array
    if not (isinstance(array, pd.arrays.ArrowStringArray) and hasattr(array, "__arrow_array__")):
        return None
    chunked = array.__arrow_array__()
    encoded = (chunked.combine_chunks() if chunked.num_chunks != 1
               else chunked.chunk(0)).dictionary_encode()
    indices = encoded.indices
    codes = (indices.fill_null(-1) if indices.null_count else indices).to_numpy()
    labels = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(labels, kind="stable")  # Python's order of str: code points, as pandas
    rank = np.empty(labels.size + 1, dtype=np.intp)
    rank[order] = np.arange(labels.size)
    rank[-1] = -1
    return codes, labels[order], rank


def _one_arrow_chunk(values: pd.Series):
    """The pyarrow array of strings held by pyarrow (pandas' ``str`` or ``string[pyarrow]``) in
    one chunk with no missing value; None for any other column."""
    array = values.array
    if not (isinstance(array, pd.arrays.ArrowStringArray) and hasattr(array, "__arrow_array__")):
        return None
    chunked = array.__arrow_array__()
    if chunked.num_chunks != 1 or chunked.null_count or len(chunked) == 0:
        return None
    return chunked.chunk(0)


def _fixed_width_keys(values: pd.Series) -> tuple[int, list[np.ndarray]] | None:
    """Exact integer keys of pyarrow strings that all have the same length L in bytes (1 to 16,
    no missing value): L and one ``uint64`` per row holding its bytes (L <= 8), or two holding
    its first and last eight (9 to 16; together every byte). None for any other column.

    The keys are read from pyarrow's data buffer by strided views, without hashing: the strata
    of a sample (town names of equal length, as a county's often are) are then compared row by
    row as integers. Two rows have equal keys exactly when their strings are equal.
    """
    chunk = _one_arrow_chunk(values)
    if chunk is None:
        return None
    buffers = chunk.buffers()
    if len(buffers) != 3 or str(chunk.type) not in ("string", "large_string"):
        return None
    n = len(chunk)
    width = 8 if str(chunk.type) == "large_string" else 4
    off = np.frombuffer(buffers[1], dtype=f"<i{width}", count=n + 1, offset=width * chunk.offset)
    data = buffers[2]
    start = int(off[0])
    size, rest = divmod(int(off[-1]) - start, n)
    if rest or not 1 <= size <= 16:
        return None
    if np.diff(off).min() != size:  # the mean length is size: no shorter one, no longer one
        return None

    def window(shift: int, rows: int) -> np.ndarray:
        """The eight bytes from byte ``shift`` of each of the first ``rows`` rows."""
        return np.ndarray((rows,), dtype="<u8", buffer=data, offset=start + shift,
                          strides=(size,))

    if size >= 8:  # every window lies within its row
        return size, [window(0, n).copy()] + ([window(size - 8, n).copy()] if size > 8 else [])
    # shorter strings: eight bytes from each row's start, the next rows' bytes masked off; the
    # last rows, whose eight bytes would pass the end of the buffer, are padded apart
    fits = min(n, max(0, (data.size - start - 8) // size + 1))
    key = np.empty(n, dtype="<u8")
    if fits:
        key[:fits] = window(0, fits)
    if fits < n:
        tail = np.zeros((n - fits, 8), dtype=np.uint8)
        tail[:, :size] = np.frombuffer(data, dtype=np.uint8, count=(n - fits) * size,
                                       offset=start + fits * size).reshape(-1, size)
        key[fits:] = tail.view("<u8").ravel()
    key &= np.uint64((1 << (8 * size)) - 1)
    return size, [key]


def _fixed_width_text(size: int, keys: list[np.ndarray]) -> np.ndarray:
    """The strings of :func:`_fixed_width_keys`' keys (one per element), as an object array."""
    if size <= 8:
        raw = [int(a).to_bytes(8, "little")[:size] for a in keys[0]]
    else:
        raw = [int(a).to_bytes(8, "little") + int(b).to_bytes(8, "little")[16 - size:]
               for a, b in zip(keys[0], keys[1], strict=True)]
    return np.array([r.decode("utf-8") for r in raw], dtype=object)


def _first_rows(codes_of, n: int, k: int) -> np.ndarray:
    """The first row of each code 0..k−1 among ``n`` rows (``n`` for a code without a row);
    ``codes_of(a, b)`` gives the codes of rows a..b−1 (−1: none). The rows are read in growing
    chunks until every code has been seen: a sample lists its towns and villages early, so a
    million rows are rarely all read."""
    first = np.full(k + 1, n, dtype=np.intp)  # slot 0: rows without a code
    a, b = 0, min(n, 4096)
    while a < n:
        codes = codes_of(a, b)
        # a code's first row starts a run of equal codes: only the runs' first rows are
        # scattered (few when the rows are sorted by the code, as a drawn sample is)
        start = np.empty(codes.size, dtype=bool)
        start[0] = True
        np.not_equal(codes[1:], codes[:-1], out=start[1:])
        rows = np.flatnonzero(start)
        np.minimum.at(first, codes[rows] + 1, rows + a)
        if (first[1:] < n).all():
            break
        a, b = b, min(n, 8 * b)
    return first[1:]


def _object_addresses(values: np.ndarray) -> np.ndarray:
    """The addresses of the objects of an object array, as integers: a view of its pointers (no
    copy; the view keeps ``values`` alive). Two equal addresses are one object."""
    values = np.ascontiguousarray(values)
    pointers = (ctypes.c_void_p * values.size).from_address(values.__array_interface__["data"][0])
    pointers.owner = values  # the pointers' memory is values'
    return np.frombuffer(pointers, dtype=np.uintp)


#: The longest string (in UTF-8 bytes) an Arrow string view holds inside itself.
_INLINE_BYTES = 12


def _string_views(chunk) -> np.ndarray | None:
    """Each row's Arrow string view of a pyarrow string array (16 bytes: the length, then a
    string of at most 12 bytes itself, padded with zeros; a longer one's first bytes and place)
    as one ``V16`` element; None where pyarrow has no string views (before 16) or the machine
    is big-endian.

    The Arrow columnar format keeps a string of at most 12 bytes inside its view, so a row whose
    view equals that of a string of at most 12 bytes holds that string, and a row whose view
    differs holds another (a longer string's view differs from every short one's)."""
    if sys.byteorder != "little":
        return None
    import pyarrow as pa

    try:
        views = chunk.cast(pa.string_view())
    except (AttributeError, NotImplementedError, pa.ArrowException):
        return None
    buffers = views.buffers()
    if len(buffers) < 2 or buffers[1] is None:
        return None
    return np.frombuffer(buffers[1], dtype="V16", count=len(views), offset=16 * views.offset)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``pd.factorize(values, sort=True)``: codes 0..k−1 of the distinct values in sorted order
    (−1 where missing), those values and, when they came for free, the rows of each (else None).

    Two fast paths give the same codes without a hash table: a categorical's codes (its observed
    categories, in category order) and, for integers of a small range, one ``bincount``; pyarrow
    strings are hashed by pyarrow itself (:func:`_arrow_codes`).
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = values.array
        codes = np.asarray(cat.codes, dtype=np.intp)
        counts = np.bincount(codes + 1, minlength=len(cat.categories) + 1)
        missing, counts = counts[0], counts[1:]
        used = counts > 0
        labels = np.asarray(cat.categories[used])
        if not used.all():
            remap = np.concatenate(([-1], np.cumsum(used) - 1))
            codes = remap[codes + 1]
        # the counts say whether a value is missing: None asks the caller to look
        return codes, labels, (counts[used] if not missing else None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(values):
        x = values.to_numpy()
        lo, hi = int(x.min()), int(x.max())
        span = hi - lo + 1
        if span <= 2 * x.size + 65_536:
            # a new array, not a view of the data (bincounts over it are faster)
            shifted = (x - lo).astype(np.intp, copy=False) if lo else x.astype(np.intp)
            counts = np.bincount(shifted, minlength=span)
            used = counts > 0
            labels = (np.flatnonzero(used) + lo).astype(dtype)
            if used.all():
                return shifted, labels, counts
            return (np.cumsum(used) - 1)[shifted], labels, counts[used]
    arrow = _arrow_codes(values)
    if arrow is not None:
        codes, labels, rank = arrow
        return rank[codes], labels, None
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(uniques), None


def _combine(first: np.ndarray, second: np.ndarray, size: int) -> np.ndarray:
    """Codes of the pairs (first, second) of two code arrays (``second < size``), in the order
    of the pairs."""
    return _codes(pd.Series(first.astype(np.int64) * size + second))[0]


def _clash(data: pd.DataFrame, psu: str, i: int) -> None:
    raise DataError(f"PSU“{data[psu].iloc[i]}”出现在多个层中；若 PSU 编号只在层内唯一，请用 nest=True",
                    row=i + 2, column=psu)


def _strata_of_psus(data: pd.DataFrame, strata: str, psu: str,
                    p_code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stratum code of each PSU and the strata labels (sorted, as ``pd.factorize`` sorts),
    reading the strata column once: each PSU takes the stratum of its first row, every row is
    compared with its PSU's, and only the PSUs' strata are factorised — not one value per row.
    Missing strata and PSUs in several strata raise, naming the first such row."""
    col = data[strata]
    n_psu = int(p_code.max()) + 1
    # the first row of each PSU: a few thousand rows read, not a scatter over all of them
    firsts = _first_rows(lambda a, b: p_code[a:b], p_code.size, n_psu)
    fixed = _fixed_width_keys(col)
    if fixed is not None:
        # pyarrow strings of one length: compared as integers, no hash over the rows
        size, keys = fixed
        psu_keys = [key[firsts] for key in keys]
        differ = None
        for key, at_psu in zip(keys, psu_keys, strict=True):
            bad = np.take(at_psu, p_code) != key  # np.take: faster than at_psu[p_code]
            differ = bad if differ is None else differ | bad
        if differ.any():
            _clash(data, psu, int(np.argmax(differ)))
        return _codes(pd.Series(_fixed_width_text(size, psu_keys)))[:2]
    whole = _one_arrow_chunk(col)
    if whole is not None:
        # other pyarrow strings with no missing value: each row compared with its PSU's first
        # row's, no hash over the rows; only the PSUs' strings are decoded
        import pyarrow.compute as pc

        psu_strings = whole.take(firsts)
        views = (_string_views(whole) if pc.max(pc.binary_length(psu_strings)).as_py()
                 <= _INLINE_BYTES else None)
        if views is not None:
            # the PSUs' strings have at most 12 bytes: the rows' Arrow views compared as two
            # integers each (no string copied)
            differ = np.take(views[firsts], p_code).view("<u8") != views.view("<u8")  # 2 a row
            clash = int(np.argmax(differ)) // 2 if differ.any() else None
        else:  # longer strings: pyarrow's take + equal
            same = pc.equal(whole, whole.take(np.take(firsts, p_code)))
            clash = (None if pc.all(same).as_py()
                     else int(np.argmin(same.to_numpy(zero_copy_only=False))))
        if clash is not None:
            _clash(data, psu, clash)
        return _codes(pd.Series(psu_strings.to_pylist(), dtype=object))[:2]
    labels_of = None  # the labels of raw, when raw holds codes
    rank = None  # raw's codes → sorted codes, when they are not sorted
    arrow = _arrow_codes(col)
    if arrow is not None:
        # pyarrow strings: pyarrow's hash codes them; only the PSUs' codes are sorted (below)
        raw, labels_of, rank = arrow
    elif isinstance(col.dtype, pd.CategoricalDtype):
        raw = np.asarray(col.array.codes)  # −1: missing
    elif isinstance(col.dtype, np.dtype) and col.dtype != object:
        raw = col.to_numpy()
    elif (isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "python"
          and isinstance(col.dtype.na_value, float)):
        # pandas' str dtype without pyarrow holds Python strings and NaN: its array as it is
        # (NaN differs from itself, so a missing value is found below)
        raw = col.to_numpy()
    else:
        # object columns may hold values that do not compare (pd.NA): factorise them
        raw, labels_of, _ = _codes(col)  # −1: missing
    first = raw[firsts]
    if raw.dtype == object:
        # Python strings: a row holding the very object its PSU's first row holds has its
        # stratum (a file's reader gives equal strings one object); only the other rows are
        # compared as strings
        differ = np.take(_object_addresses(first), p_code) != _object_addresses(raw)
        rows = np.flatnonzero(differ)
        differ[rows] = first[p_code[rows]] != raw[rows]
    else:
        differ = np.take(first, p_code) != raw  # np.take: faster than first[p_code]
    if differ.any():
        missing = col.isna().to_numpy()
        if missing.any():
            raise DataError("抽样设计列不能为空", row=int(np.argmax(missing)) + 2, column=strata)
        _clash(data, psu, int(np.argmax(differ)))
    if rank is not None:
        first = rank[first]
    if isinstance(col.dtype, pd.CategoricalDtype):
        per_psu = pd.Series(pd.Categorical.from_codes(first, dtype=col.dtype))
    elif labels_of is not None:
        per_psu = pd.Series(np.where(first >= 0, first, np.nan) if (first < 0).any() else first)
    else:
        per_psu = pd.Series(first)
    psu_stratum, labels, _ = _codes(per_psu)
    if (psu_stratum < 0).any():  # a PSU all of whose rows miss their stratum
        missing = col.isna().to_numpy()
        raise DataError("抽样设计列不能为空", row=int(np.argmax(missing)) + 2, column=strata)
    if labels_of is not None:
        labels = labels_of[labels.astype(np.intp)]
    return psu_stratum, labels


def _sampling_fraction(population: np.ndarray, sampled: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Sampling fractions from an FPC given as counts (> 1) or fractions (<= 1), and the first
    group whose fraction is impossible (above 1 or not positive), if any."""
    frac = np.where(population <= 1, population, sampled / population)
    bad = np.flatnonzero((frac > 1 + 1e-9) | (frac <= 0))
    return frac, (int(bad[0]) if bad.size else None)


@dataclass(frozen=True, eq=False, repr=False, init=False)
class SurveyDesign:
    """A stratified (multi-stage) sample design bound to a DataFrame.

    Parameters
    ----------
    data : DataFrame
        One row per observed unit (household).
    strata : str, optional
        Column of the first-stage strata (towns). None: one stratum.
    psu : str, optional
        Column of the primary sampling units (villages). None: each row is its own PSU.
    weights : str, optional
        Column of sampling weights (1/π). None: 1, or N/n from the FPCs when given.
    fpc : str, optional
        Population count of PSUs in the row's stratum (R's ``fpc=~N``); values <= 1 are read as
        sampling fractions. Without it, the first stage is treated as with replacement (the
        ultimate-cluster variance), the standard choice when PSUs were drawn with unequal
        probabilities.
    ssu : str, optional
        Column of the second-stage units (households); with ``fpc2`` the variance gains the
        second-stage term (R's ``ids=~psu+ssu, fpc=~N1+N2``). None: each row.
    fpc2 : str, optional
        Population count of second-stage units in the row's PSU (or a fraction when <= 1).
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        A stratum with one PSU: raise; contribute nothing ("remove", "certainty"); contribute its
        squared deviation from the overall mean ("adjust"); or take the average of the other
        strata ("average") — R ``survey``'s meanings.
    nest : bool
        PSU labels are only unique within strata (R's ``nest=TRUE``).
    adjust_domain_lonely : bool
        A stratum with several PSUs of which only one has rows in a domain is treated by the
        ``lonely_psu`` rule for that domain (R's ``options(survey.adjust.domain.lonely=TRUE)``):
        with "adjust" its square counts ``n_h/(n_h − 1)`` times, with "average" it is left out and
        the domain's other strata are scaled up; "remove" and "certainty" are unchanged, as in R.
        Off by default (R's default).

    Rows with a zero weight are kept, as R ``survey`` keeps them: they count as rows and their PSUs
    count in ``n_h``, but they add nothing to estimates and a PSU with only zero weights is not
    counted in the degrees of freedom (a counted ``QuchiStatsWarning``). Negative weights raise.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"town": ["甲", "甲", "甲", "乙", "乙"], "village": [1, 1, 2, 3, 4],
    ...                    "w": [2.0, 2.0, 3.0, 1.5, 1.5], "y": [1, 0, 1, 1, 1]})
    >>> d = SurveyDesign(df, strata="town", psu="village", weights="w")
    >>> d
    SurveyDesign(5 rows, 2 strata, 4 PSUs, weights='w', with replacement at stage 1)
    >>> d.df
    2
    """

    data: pd.DataFrame
    strata: str | None = None
    psu: str | None = None
    weights: str | None = None
    fpc: str | None = None
    ssu: str | None = None
    fpc2: str | None = None
    lonely_psu: str = "fail"
    nest: bool = False
    adjust_domain_lonely: bool = False
    # derived once
    w: np.ndarray = field(init=False)
    psu_code: np.ndarray = field(init=False)
    psu_stratum: np.ndarray = field(init=False)
    n_psu_in_stratum: np.ndarray = field(init=False)
    f1: np.ndarray = field(init=False)
    ssu_code: np.ndarray | None = field(init=False)
    ssu_psu: np.ndarray | None = field(init=False)
    n_ssu_in_psu: np.ndarray | None = field(init=False)
    f2: np.ndarray | None = field(init=False)
    stratum_labels: np.ndarray = field(init=False)
    n_zero_weight: int = field(init=False)
    n_rows_in_psu: np.ndarray = field(init=False)
    info: dict = field(init=False)

    def __init__(self, data: pd.DataFrame, *, strata: str | None = None, psu: str | None = None,
                 weights: str | None = None, fpc: str | None = None, ssu: str | None = None,
                 fpc2: str | None = None, lonely_psu: str = "fail", nest: bool = False,
                 adjust_domain_lonely: bool = False) -> None:
        func = "SurveyDesign"
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"The 'data' parameter of {func} must be a DataFrame. "
                                 f"Got {type(data).__name__}.")
        check_choice("lonely_psu", lonely_psu, LONELY_PSU, func)
        for name, col in (("strata", strata), ("psu", psu), ("weights", weights), ("fpc", fpc),
                          ("ssu", ssu), ("fpc2", fpc2)):
            if col is not None and col not in data.columns:
                raise ParameterError(
                    f"The {name!r} parameter of {func} names a column that is not in the data: "
                    f"{col!r}.")
        if fpc2 is not None and fpc is None:
            raise ParameterError(f"The 'fpc2' parameter of {func} needs 'fpc' (the first stage).")
        if len(data) == 0:
            raise DataError("抽样设计没有任何数据行")
        data = data.reset_index(drop=True)  # no copy of the values (copy-on-write)
        put = object.__setattr__
        for name, value in (("data", data), ("strata", strata), ("psu", psu), ("weights", weights),
                            ("fpc", fpc), ("ssu", ssu), ("fpc2", fpc2), ("lonely_psu", lonely_psu),
                            ("nest", nest), ("adjust_domain_lonely", bool(adjust_domain_lonely))):
            put(self, name, value)
        n = len(data)
        # one factorisation per column, which also finds the missing values (code −1); the
        # strata are read per PSU when the PSUs are coded (see _strata_of_psus)
        codes = {}
        s_code = None
        psu_level = psu is not None and strata is not None and not nest
        for col in dict.fromkeys(c for c in (strata, psu, ssu) if c is not None):
            if col == strata and psu_level and col not in (psu, ssu):
                continue
            codes[col] = _codes(data[col])
            if codes[col][2] is None:  # no counts: look for missing values
                missing = codes[col][0] < 0
                if missing.any():
                    raise DataError("抽样设计列不能为空", row=int(np.argmax(missing)) + 2,
                                    column=col)
        if strata is None:
            s_code, s_lab = np.zeros(n, np.intp), np.array(["全部"])
        elif not psu_level or strata in (psu, ssu):
            s_code, s_lab = codes[strata][:2]
        psu_rows = None
        if psu is None:
            p_code = np.arange(n, dtype=np.intp)
            psu_stratum = s_code.copy()
            psu_rows = np.ones(n, dtype=np.intp)
        else:
            p_code, p_lab, psu_rows = codes[psu]
            if nest and strata is not None:
                p_code = _combine(s_code, p_code, len(p_lab))
                psu_rows = None
            if s_code is None:
                psu_stratum, s_lab = _strata_of_psus(data, strata, psu, p_code)
            else:
                psu_stratum = np.full(int(p_code.max()) + 1, -1, dtype=np.intp)
                psu_stratum[p_code] = s_code
                if strata is not None:
                    clash = psu_stratum[p_code] != s_code
                    if clash.any():
                        _clash(data, psu, int(np.argmax(clash)))
        n_psu = psu_stratum.size
        if psu_rows is None:
            psu_rows = np.bincount(p_code, minlength=n_psu)
        n_h = np.bincount(psu_stratum, minlength=len(s_lab))
        # weights: two reductions when they are valid, the row of the first bad one otherwise
        zero = 0
        if weights is not None:
            col = data[weights]
            w = (col.to_numpy() if col.dtype.kind == "f" and isinstance(col.dtype, np.dtype)
                 else pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
            w = np.array(w, dtype=float)  # a compact copy: faster bincounts than a view of data
            lo = w.min()
            if not (lo >= 0 and np.isfinite(w.max())):
                bad = ~np.isfinite(w) | (w < 0)
                i = int(np.argmax(bad))
                raise DataError(f"权数应为非负数，实际为“{col.iloc[i]}”", row=i + 2,
                                column=weights)
            zero = int(np.count_nonzero(w == 0)) if lo == 0 else 0
            if zero == n:
                raise DataError("权数全部为 0，无法估计", column=weights)
            if zero:
                warnings.warn(f"权数列“{weights}”有 {zero} 行为 0：按 R survey 的做法保留这些行"
                              "（计入样本行数与 PSU 数，不参与估计）", QuchiStatsWarning,
                              stacklevel=2)
        else:
            w = np.ones(n)
        # first-stage fpc
        f1 = np.ones(len(s_lab))  # 1 - sampling fraction; 1 = with replacement
        frac1 = np.zeros(len(s_lab))
        if fpc is not None:
            if s_code is None:
                s_code = psu_stratum[p_code]
            N = self._per_group(data[fpc], s_code, len(s_lab), fpc, "层")
            frac1, h = _sampling_fraction(N, n_h)
            if h is not None:
                raise DataError(f"层“{s_lab[h]}”的 fpc 与样本不符：抽中 {n_h[h]} 个 PSU，"
                                f"fpc 为 {N[h]:g}", column=fpc)
            f1 = 1 - np.minimum(frac1, 1.0)
        # second stage
        ssu_code = ssu_psu = m_i = f2 = None
        if fpc2 is not None:
            ssu_code = (_combine(p_code, codes[ssu][0], len(codes[ssu][1])) if ssu is not None
                        else np.arange(n, dtype=np.intp))
            ssu_psu = np.full(int(ssu_code.max()) + 1, -1, dtype=np.intp)
            ssu_psu[ssu_code] = p_code
            m_i = np.bincount(ssu_psu, minlength=n_psu)
            M = self._per_group(data[fpc2], p_code, n_psu, fpc2, "PSU")
            frac2, i = _sampling_fraction(M, m_i)
            if i is not None:
                raise DataError(f"第二阶段 fpc 与样本不符：PSU 中抽中 {m_i[i]} 个单位，fpc2 为 "
                                f"{M[i]:g}", column=fpc2)
            f2 = 1 - np.minimum(frac2, 1.0)
            if weights is None:
                w = w / frac1[s_code] / frac2[p_code]
        elif fpc is not None and weights is None:
            w = w / frac1[s_code]
        put(self, "w", w)
        if s_code is not None:
            put(self, "stratum_code", s_code)  # else computed on first use
        put(self, "stratum_labels", s_lab)
        put(self, "psu_code", p_code)
        put(self, "psu_stratum", psu_stratum)
        put(self, "n_psu_in_stratum", n_h)
        put(self, "f1", f1)
        put(self, "ssu_code", ssu_code)
        put(self, "ssu_psu", ssu_psu)
        put(self, "n_ssu_in_psu", m_i)
        put(self, "f2", f2)
        put(self, "n_zero_weight", zero)
        put(self, "n_rows_in_psu", psu_rows)
        put(self, "info", {})
        if lonely_psu == "fail":
            lonely = np.flatnonzero((n_h == 1) & (f1 > 1e-7))
            if lonely.size:
                raise DataError(
                    f"层“{s_lab[lonely[0]]}”只有 1 个 PSU，无法估计方差；可设 lonely_psu 为 "
                    "'remove'、'certainty'、'adjust' 或 'average'", column=strata)
            if f2 is not None:
                lone2 = np.flatnonzero((m_i == 1) & (f2 > 1e-7))
                if lone2.size:
                    raise DataError("有 PSU 在第二阶段只抽中 1 个单位，无法估计第二阶段方差；可设 "
                                    "lonely_psu", column=ssu or fpc2)

    @staticmethod
    def _per_group(values: pd.Series, code: np.ndarray, size: int, col: str,
                   what: str) -> np.ndarray:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            i = int(np.flatnonzero(~np.isfinite(v) | (v <= 0))[0])
            raise DataError(f"fpc 应为正数，实际为“{values.iloc[i]}”", row=i + 2, column=col)
        out = np.full(size, np.nan)
        out[code] = v
        if np.any(out[code] != v):
            i = int(np.flatnonzero(out[code] != v)[0])
            raise DataError(f"fpc 在同一{what}内应相同", row=i + 2, column=col)
        return out

    # ------------------------------------------------------------------------------------------
    @functools.cached_property
    def stratum_code(self) -> np.ndarray:
        """The stratum code of each row (computed on first use from the PSUs' when binding did
        not need it)."""
        return self.psu_stratum[self.psu_code]

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def n_strata(self) -> int:
        return int(self.stratum_labels.size)

    @property
    def n_psu(self) -> int:
        return int(self.psu_stratum.size)

    @property
    def df(self) -> int:
        """Degrees of freedom: PSUs minus strata among the rows with a positive weight (R's
        ``degf``)."""
        return self.domain_df(np.ones(self.n, dtype=bool))

    def domain_df(self, mask: np.ndarray) -> int:
        """PSUs minus strata among the rows in ``mask`` with a positive weight (R ``svyby``'s
        domain df)."""
        mask = mask & (self.w > 0)
        if not mask.any():
            return 0
        psus = np.unique(self.psu_code[mask])
        strata = np.unique(self.psu_stratum[psus])
        return int(psus.size - strata.size)

    def __repr__(self) -> str:
        stage = ("with replacement at stage 1" if self.fpc is None else
                 "two-stage without replacement" if self.fpc2 is not None else
                 "without replacement at stage 1")
        return (f"SurveyDesign({self.n} rows, {self.n_strata} strata, {self.n_psu} PSUs, "
                f"weights={self.weights!r}, {stage})")

    def column(self, name: str) -> pd.Series:
        if name not in self.data.columns:
            raise ParameterError(f"The design's data has no column {name!r}.")
        return self.data[name]
