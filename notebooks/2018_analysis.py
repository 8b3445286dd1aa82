# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] papermill={"duration": 0.00222, "end_time": "2026-11-29T17:07:06.891876+00:00", "exception": false, "start_time": "2026-11-29T17:07:06.889656+00:00", "status": "completed"}
# # 曲江区年度扶贫开发工作成效考核：数据分析记录
#
# 本笔记本由模板 `notebooks/templates/yearly_analysis.py` 按年度参数生成（`tools/make_yearly_notebooks.py`），
# 记录当年考核的全部分析步骤：数据检查 → 指标估计 → 第七条标记 → 图表 → 与往年比较。所有计算都调用
# `quchi_stats` 的公开接口；同样的结果也由 `quchi-stats report --year 年度` 写成考核报告。
#
# > 默认数据目录是随包附带的 `data_samples/`，其中全部是**合成数据**（模拟的曲江区），不反映任何真实乡镇的情况。

# %% papermill={"duration": 0.011286, "end_time": "2026-11-29T17:07:06.904777+00:00", "exception": false, "start_time": "2026-11-29T17:07:06.893491+00:00", "status": "completed"} tags=["parameters"]
year = 2018
data = None  # 数据目录；None 表示随包附带的合成数据 data_samples/

# %% papermill={"duration": 0.006654, "end_time": "2026-11-29T17:07:06.913335+00:00", "exception": false, "start_time": "2026-11-29T17:07:06.906681+00:00", "status": "completed"} tags=["injected-parameters"]
# Parameters
year = 2018


# %% papermill={"duration": 1.125989, "end_time": "2026-11-29T17:07:08.041208+00:00", "exception": false, "start_time": "2026-11-29T17:07:06.915219+00:00", "status": "completed"}
# %matplotlib inline
import warnings

import matplotlib.pyplot as plt
import pandas as pd

from quchi_stats import plots
from quchi_stats.assessment import run_assessment
from quchi_stats.datasets import data_path
from quchi_stats.io import DataDir, read_table
from quchi_stats.report import report_tables
from quchi_stats.sampling import verify_manifest

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.precision", 3)
root = DataDir(data if data is not None else data_path())
print(f"{year} 年；数据目录：{root.root.name}/")

# %% [markdown] papermill={"duration": 0.001617, "end_time": "2026-11-29T17:07:08.044849+00:00", "exception": false, "start_time": "2026-11-29T17:07:08.043232+00:00", "status": "completed"}
# ## 1. 数据检查
#
# 抽查样本是审计记录：先按抽样清单重新抽样，确认样本文件与清单完全一致、台账在抽样后没有被改动。

# %% papermill={"duration": 1.557446, "end_time": "2026-11-29T17:07:09.603822+00:00", "exception": false, "start_time": "2026-11-29T17:07:08.046376+00:00", "status": "completed"}
print(verify_manifest(root.sample_dir(year)))
register = read_table(root.register(year), "register")
sample = read_table(root.sample_dir(year) / "sample.csv", "sample")
results = read_table(root.results(year), "results")
status = results["visit_status"].map({"completed": "完成", "substitute": "替补", "unreachable": "无法入户"})
pd.DataFrame({
    "台账户数": [len(register)], "建档立卡户": [int(register["registered"].sum())],
    "抽中村数": [sample["village"].nunique()], "正选户": [int((sample["role"] == "primary").sum())],
    **{f"入户{k}": [v] for k, v in status.value_counts().items()},
})

# %% [markdown] papermill={"duration": 0.001619, "end_time": "2026-11-29T17:07:09.607540+00:00", "exception": false, "start_time": "2026-11-29T17:07:09.605921+00:00", "status": "completed"}
# ## 2. 指标估计
#
# 每项指标按考核参数（`quchi_stats/specs/assessment_年度.toml`）计算：镇为层、村为初级抽样单位，无法入户已在“村×抽样框”内
# 调整权数；置信区间默认为 Jeffreys 区间（有效样本量按自由度截断），在 p̂ = 1 时仍有定义。

# %% papermill={"duration": 2.091919, "end_time": "2026-11-29T17:07:11.701008+00:00", "exception": false, "start_time": "2026-11-29T17:07:09.609089+00:00", "status": "completed"}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    assessment = run_assessment(year, root.root)
tables = report_tables(assessment)
estimates = tables["估计结果"]
estimates[["指标", "乡镇", "估计值", "置信下限", "置信上限", "样本户数", "自由度", "判定", "把握度"]]

# %% [markdown] papermill={"duration": 0.001874, "end_time": "2026-11-29T17:07:11.705266+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.703392+00:00", "status": "completed"}
# ## 3. 第七条标记与需要关注的问题
#
# 标记都有统计检验支持（显著偏低经 Holm 多重比较校正；“数字脱贫”用收入集中检验；数据失真比较自评与抽查），
# 不以点估计单独作为依据。“需要关注”是证据尚不足以标记、建议复核的情形。

# %% papermill={"duration": 0.009465, "end_time": "2026-11-29T17:07:11.716506+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.707041+00:00", "status": "completed"}
tables["标记"]

# %% papermill={"duration": 0.010525, "end_time": "2026-11-29T17:07:11.729320+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.718795+00:00", "status": "completed"}
tables["需关注"]

# %% [markdown] papermill={"duration": 0.002057, "end_time": "2026-11-29T17:07:11.734016+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.731959+00:00", "status": "completed"}
# ## 4. 图表

# %% papermill={"duration": 0.203643, "end_time": "2026-11-29T17:07:11.939574+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.735931+00:00", "status": "completed"}
spec = assessment.spec
for name in ("satisfaction_rate", "exit_accuracy"):
    ind = spec.indicator(name)
    sub = assessment.estimates[assessment.estimates["indicator"] == name]
    plots.forest_plot(sub, threshold=ind.threshold, label=ind.label,
                      complement=ind.display == "complement")
    plt.show()

# %% papermill={"duration": 0.184387, "end_time": "2026-11-29T17:07:12.127221+00:00", "exception": false, "start_time": "2026-11-29T17:07:11.942834+00:00", "status": "completed"}
funnel = assessment.funnel["satisfaction_rate"]
plots.funnel_plot(funnel, funnel.attrs["theta0"], label="群众认可度")
plt.show()

# %% papermill={"duration": 0.12306, "end_time": "2026-11-29T17:07:12.253498+00:00", "exception": false, "start_time": "2026-11-29T17:07:12.130438+00:00", "status": "completed"}
b = assessment.bunching.sort_values("p_value").iloc[0]
town = b["town"]
plots.income_histogram(assessment.incomes.loc[assessment.incomes["town"] == town, "relative_income"],
                       window=spec.bunching_window, title=f"{town} {year} 年退出户收入分布（收入集中检验 P 值最小的镇）")
plt.show()
tables["收入集中检验"]

# %% [markdown] papermill={"duration": 0.003095, "end_time": "2026-11-29T17:07:12.260070+00:00", "exception": false, "start_time": "2026-11-29T17:07:12.256975+00:00", "status": "completed"}
# ## 5. 与往年比较

# %% papermill={"duration": 0.124471, "end_time": "2026-11-29T17:07:12.387641+00:00", "exception": false, "start_time": "2026-11-29T17:07:12.263170+00:00", "status": "completed"}
history = assessment.history
if history["year"].nunique() > 1:
    h = history[history["indicator"] == "satisfaction_rate"]
    plots.trend_plot(h, label="群众认可度", threshold=0.9)
    plt.show()
    changes = tables["年度变化"]
    display(changes[changes["变化显著"]])  # noqa: F821 - provided by IPython
else:
    print("数据目录中没有更早年度的抽查数据。")

# %% [markdown] papermill={"duration": 0.003535, "end_time": "2026-11-29T17:07:12.395098+00:00", "exception": false, "start_time": "2026-11-29T17:07:12.391563+00:00", "status": "completed"}
# ## 6. 与真实值对照（只有合成数据才有）
#
# 合成数据的 `truth_年度.csv` 记录了注入的问题，用来检验上面的标记是否找到了问题、是否误标了没有问题的镇。

# %% papermill={"duration": 0.020104, "end_time": "2026-11-29T17:07:12.418616+00:00", "exception": false, "start_time": "2026-11-29T17:07:12.398512+00:00", "status": "completed"}
truth_files = list(root.root.glob(f"truth_{year}.csv"))
if truth_files:
    truth = pd.read_csv(truth_files[0])
    injected = truth[truth["town"] != "全区"].drop_duplicates("town")[["town", "injected_problem"]]
    injected["标记"] = injected["town"].map(
        assessment.flags.groupby("town")["item"].agg("、".join)).fillna("")
    injected["需关注"] = injected["town"].map(
        assessment.watch.groupby("town")["item"].agg("、".join)).fillna("")
    display(injected.rename(columns={"town": "乡镇", "injected_problem": "注入的问题"}))  # noqa: F821
else:
    print("真实数据没有真值文件。")
