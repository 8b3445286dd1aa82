"""LQAS classification."""

from quchi_stats.flags import lqas_classify
from quchi_stats.labels import LQAS_LABELS, LqasClass, code_label
from quchi_stats.sampling import lqas_rule


def test_classify_with_the_textbook_rule():
    rule = lqas_rule(19, 0.8, 0.5)
    out = lqas_classify([19, 13, 12, 10], [19, 19, 19, 12], rule.d, rule.n)
    assert out.tolist() == ["accepted", "accepted", "rejected", "short_sample"]  # codes
    assert set(out) <= set(LqasClass)
    assert [code_label(LqasClass, c) for c in out] == ["达标", "达标", "未达标", "样本不足"]
    assert not set(out) & set(LQAS_LABELS.values())  # never the words
