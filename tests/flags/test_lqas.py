"""LQAS classification."""

from quchi_stats.flags import lqas_classify
from quchi_stats.sampling import lqas_rule


def test_classify_with_the_textbook_rule():
    rule = lqas_rule(19, 0.8, 0.5)
    out = lqas_classify([19, 13, 12, 10], [19, 19, 19, 12], rule.d, rule.n)
    assert out.tolist() == ["达标", "达标", "未达标", "样本不足"]
