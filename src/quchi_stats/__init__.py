"""quchi_stats — 曲江区扶贫开发工作成效考核统计工具.

Design the yearly spot-check (抽查) sample, estimate the assessment's rates with honest intervals,
flag towns under 考核办法 第七条, and write the 考核报告.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("quchi-stats")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from .errors import DataError, ParameterError, QuchiStatsError, QuchiStatsWarning

__all__ = ["DataError", "ParameterError", "QuchiStatsError", "QuchiStatsWarning", "__version__"]
