"""Benchmark 2: PPS systematic selection of 2,000 villages from 200,000 in 9 towns.

quchi_stats selects town by town as the yearly draw does (``select("pps_systematic", ...)``:
inclusion probabilities with certainty units, then the systematic pass); svy 0.35 selects with
``Sample.sampling.pps_sys`` on a stratified design with the size as ``mos`` (writing the
probabilities back to its frame, as it always does). Allocation: proportional to the towns' villages.

Run: ``python benchmarks/bench_pps.py``.
"""

from __future__ import annotations

import numpy as np
from _common import NO_SVY, cli, have, median_time

from quchi_stats.sampling import select


def make_frame(villages: int = 200_000, towns: int = 9, total: int = 2_000, seed: int = 1):
    rng = np.random.default_rng(seed)
    town = np.sort(rng.integers(0, towns, villages))
    size = rng.integers(20, 400, villages).astype(float)
    counts = np.bincount(town, minlength=towns)
    n = np.round(counts / counts.sum() * total).astype(int)
    n[-1] += total - n.sum()
    return town, size, n


def run(villages: int = 200_000, total: int = 2_000, repeats: int = 7) -> dict:
    town, size, n = make_frame(villages, total=total)
    bounds = np.searchsorted(town, np.arange(len(n) + 1))
    rng = np.random.default_rng(5)

    def ours() -> list:
        return [bounds[h] + select("pps_systematic", size[bounds[h]:bounds[h + 1]], int(n[h]),
                                   rng).indices for h in range(len(n))]

    assert sum(len(a) for a in ours()) == total
    out = {"villages": villages, "selected": total, "ours_s": median_time(ours, repeats)}
    if have("svy"):
        import polars as pl
        import svy

        frame = pl.DataFrame({"village": np.arange(villages), "town": town, "size": size})
        n_map = {int(h): int(k) for h, k in enumerate(n)}
        samples = [svy.Sample(data=frame, design=svy.Design(stratum="town", mos="size"))
                   for _ in range(repeats + 1)]
        it = iter(samples)
        theirs = median_time(lambda: next(it).sampling.pps_sys(n_map, rstate=5), repeats)
        out.update(svy_s=theirs, svy_over_ours=theirs / out["ours_s"])
    return out


def report(r: dict) -> str:
    lines = [f"2. PPS systematic, {r['selected']:,} villages from {r['villages']:,} in 9 towns",
             f"   quchi_stats            {r['ours_s'] * 1e3:8.1f} ms"]
    if "svy_s" in r:
        lines += [f"   svy 0.35 pps_sys       {r['svy_s'] * 1e3:8.1f} ms",
                  f"   -> svy / quchi_stats = {r['svy_over_ours']:.1f}x (goal >= 1x)"]
    else:
        lines.append(NO_SVY)
    return "\n".join(lines)


if __name__ == "__main__":
    cli(run, report)
