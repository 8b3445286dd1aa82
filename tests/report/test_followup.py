"""report/followup.py: the two-phase 复核 in words — the table of screened pairs and the flags'
复核 columns in Chinese, on the bundled 2018 follow-up."""

from __future__ import annotations

import pandas as pd

from quchi_stats.labels import STAGE_LABELS, Stage
from quchi_stats.report.build import zh_table
from quchi_stats.report.followup import FLAG_COLUMNS_ZH, TABLE_COLUMNS, flags_worded, followup_table


def test_followup_table_has_one_row_per_screened_pair_in_words(bundled_assessments):
    a = bundled_assessments[2018]
    assert list(followup_table(a).columns) == list(TABLE_COLUMNS)  # canonical until shown
    table = zh_table("followup", followup_table(a))
    findings = a.followup.findings
    assert len(table) == len(findings) > 0
    assert list(table["乡镇"]) == list(findings["town"])
    assert list(table.columns) == [  # the headers people read, from the registry, in this order
        "乡镇", "指标", "标准", "第一阶段估计", "第一阶段P值", "复核新抽村数", "复核入户数", "复核实际走访户数",
        "第一阶段入户数", "复核增加比例", "复核P值", "两阶段估计", "两阶段置信下限", "两阶段置信上限",
        "合并Z值", "总体P值", "校正后P值", "判定阶段", "判定"]
    assert set(findings["stage"]) <= set(Stage)  # the data keep the codes
    assert set(table["判定阶段"]) <= set(STAGE_LABELS.values())  # codes are worded, never shown raw
    # rates as the indicator shows them (错退率 and 漏评率 as 1 − rate), in [0, 1]
    for col in ("第一阶段估计", "两阶段估计", "两阶段置信下限", "两阶段置信上限"):
        assert table[col].between(0, 1).all(), col
    assert (table["两阶段置信下限"] <= table["两阶段置信上限"]).all()
    assert (table["复核入户数"] >= table["复核实际走访户数"]).all()
    for _, r in table.iterrows():
        ind = next(i for i in a.spec.indicators if i.label == r["指标"])
        assert r["标准"].endswith(f"{ind.shown_threshold:.0%}")


def test_flags_columns_in_chinese():
    flags = pd.DataFrame({"town": ["甲镇", "乙镇"], "followup_stage": ["combined", None],
                          "p_phase1": [0.01, None], "followup_villages": [4, None]})
    out = zh_table("flags", flags_worded(flags))
    assert list(out.columns) == ["乡镇", FLAG_COLUMNS_ZH["followup_stage"], FLAG_COLUMNS_ZH["p_phase1"],
                                 FLAG_COLUMNS_ZH["followup_villages"]]
    assert list(out[FLAG_COLUMNS_ZH["followup_stage"]]) == [STAGE_LABELS[Stage.COMBINED], ""]
