"""The ``quchi-stats`` command line: argument parsing only; each command calls one library function.

Errors in the user's data or options exit with status 2 and one line on stderr; unexpected
internal errors exit with status 1 and a short message (the traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import QuchiStatsError, QuchiStatsWarning, mask_personal

__all__ = ["main"]


def _frames_arg(text: str, kind: type) -> dict:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"需要三个用逗号分隔的值（建档立卡户,当年退出户,非建档立卡户），实际为 {text!r}")
    try:
        values = [kind(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"无法解析 {text!r}") from None
    return dict(zip(("registered", "exited", "non_registered"), values, strict=True))


def _icc_arg(text: str) -> float | dict[str, float]:
    try:
        if "=" not in text:
            return float(text)
        pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
        return {k.strip(): float(v) for k, v in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"应为一个数或“指标=数值”列表（逗号分隔），实际为 {text!r}") from None


#: argparse's English messages (Python 3.11–3.13) and their Chinese.
_ARGPARSE_ZH = (
    (re.compile(r"^the following arguments are required: (.*)$"), r"缺少必需的参数：\1"),
    (re.compile(r"^unrecognized arguments: (.*)$"), r"无法识别的参数：\1"),
    (re.compile(r"^one of the arguments (.*) is required$"), r"必须给出以下参数之一：\1"),
    (re.compile(r"^ambiguous option: (\S+) could match (.*)$"), r"选项 \1 有歧义，可能是：\2"),
    (re.compile(r"^argument (.+?): invalid choice: (.*?) \(choose from (.*)\)$"),
     r"参数 \1 的值 \2 无效，可选：\3"),
    (re.compile(r"^argument (.+?): invalid int value: (.*)$"), r"参数 \1 应为整数，实际为 \2"),
    (re.compile(r"^argument (.+?): invalid float value: (.*)$"), r"参数 \1 应为数值，实际为 \2"),
    (re.compile(r"^argument (.+?): invalid \S+ value: (.*)$"), r"参数 \1 的值无效：\2"),
    (re.compile(r"^argument (.+?): expected one argument$"), r"参数 \1 需要一个值"),
    (re.compile(r"^argument (.+?): expected at most one argument$"), r"参数 \1 最多接受一个值"),
    (re.compile(r"^argument (.+?): expected at least one argument$"), r"参数 \1 至少需要一个值"),
    (re.compile(r"^argument (.+?): expected (\d+) arguments?$"), r"参数 \1 需要 \2 个值"),
    (re.compile(r"^argument (.+?): not allowed with argument (.*)$"), r"参数 \1 不能与 \2 同时使用"),
    (re.compile(r"^argument (.+?): ignored explicit argument (.*)$"), r"参数 \1 不接受值 \2"),
    (re.compile(r"^argument (.+?): (.*)$"), r"参数 \1：\2"),  # our own type errors: Chinese
)


def _argparse_zh(message: str) -> str:
    """argparse's English error message in Chinese (unknown ones are left as they are)."""
    for pattern, zh in _ARGPARSE_ZH:
        if pattern.match(message):
            return pattern.sub(zh, message)
    return message


class _Parser(argparse.ArgumentParser):
    """argparse with one-line Chinese errors (status 2), like every other error of the command,
    and Chinese help headings."""

    def __init__(self, *args, **kwargs) -> None:
        add_help = kwargs.pop("add_help", True)
        parents = kwargs.pop("parents", [])
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="显示本帮助并退出")
        for parent in parents:  # after -h, as argparse's own parents= would put them before it
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"错误：{_argparse_zh(message)}（用 {self.prog} --help 查看用法）\n")

    def format_usage(self) -> str:
        return super().format_usage().replace("usage: ", "用法：", 1)

    def format_help(self) -> str:
        text = super().format_help().replace("usage: ", "用法：", 1)
        for en, zh in (("\npositional arguments:\n", "\n位置参数：\n"),
                       ("\noptions:\n", "\n选项：\n"),
                       ("\noptional arguments:\n", "\n选项：\n")):
            text = text.replace(en, zh)
        return text


def _plan_options(sub: argparse.ArgumentParser) -> None:
    """The options of a DesignPlan, shared by ``design`` and ``power``: defaults and choices come
    from :mod:`quchi_stats.plan_options`, where DesignPlan takes them."""
    from . import plan_options as options

    d = options.PLAN_DEFAULTS
    frames = ",".join(str(v) for v in d["households_per_village"].values())
    sub.add_argument("--villages", type=int, default=d["villages_total"],
                     help=f"全县（区）抽取的行政村数（默认 {d['villages_total']}）")
    sub.add_argument("--allocation", default=d["village_allocation"], choices=options.ALLOCATION_METHODS,
                     help=f"村数在镇间的分配方法（默认 {d['village_allocation']}）")
    sub.add_argument("--min-villages", type=int, default=d["min_villages_per_town"],
                     help=f"每镇最少抽村数（默认 {d['min_villages_per_town']}）")
    sub.add_argument("--village-method", default=d["village_method"], choices=options.SELECTION_METHODS,
                     help=f"第一阶段抽村方法（默认 {d['village_method']}，即按建档立卡户数 PPS 系统抽样）")
    sub.add_argument("--village-order", default=d["village_order"], choices=options.VILLAGE_ORDERS,
                     help="系统抽样时镇内村的排列顺序（隐含分层）：按村名或按建档立卡户数")
    sub.add_argument("--certainty-priority", action="store_true", default=d["certainty_priority_villages"],
                     help="省定贫困村必选入样")
    sub.add_argument("--households", type=lambda s: _frames_arg(s, int), metavar="R,E,N",
                     help=f"每村抽户数：建档立卡户,当年退出户,非建档立卡户（默认 {frames}）")
    sub.add_argument("--fraction", type=lambda s: _frames_arg(s, float), metavar="R,E,N",
                     help="按比例抽户（代替 --households），如 0.1,0.2,0.02")
    sub.add_argument("--min-households", type=int, default=d["min_households_per_village"],
                     help=f"按比例抽户时每村每框最少户数（默认 {d['min_households_per_village']}）")
    sub.add_argument("--household-method", default=d["household_method"], choices=options.HOUSEHOLD_METHODS)
    sub.add_argument("--anticipated-p", type=float, default=d["anticipated_p"],
                     help=f"Neyman 分配用的预期比例（默认 {d['anticipated_p']}）")
    sub.add_argument("--anticipated-deff", type=float, default=d["anticipated_deff"],
                     help=f"Neyman 分配用的设计效应（默认 {d['anticipated_deff']}）")


def _plan_default(name: str) -> object:
    from .plan_options import PLAN_DEFAULTS

    return PLAN_DEFAULTS[name]


def _plan_from_args(args: argparse.Namespace, **extra) -> object:
    from .sampling import DesignPlan

    plan_kwargs = {
        "year": args.year, "villages_total": args.villages, "village_allocation": args.allocation,
        "min_villages_per_town": args.min_villages, "village_method": args.village_method,
        "village_order": args.village_order,
        "certainty_priority_villages": args.certainty_priority,
        "household_fraction": args.fraction, "min_households_per_village": args.min_households,
        "household_method": args.household_method,
        "anticipated_p": args.anticipated_p, "anticipated_deff": args.anticipated_deff, **extra,
    }
    if args.households is not None:
        plan_kwargs["households_per_village"] = args.households
    return DesignPlan(**plan_kwargs)


def _risk_options(sub: argparse.ArgumentParser, how: str) -> None:
    """--risk-factor and --risk-ratio of ``power`` and ``plan`` (risk strata, issue 13)."""
    sub.add_argument("--risk-factor", type=float, default=_plan_default("risk_factor"), metavar="K",
                     help="非建档立卡户中风险户的入样概率为其他户的 K 倍（如 design --risk-factor；"
                          f"默认 1，不加抽；台账须有风险户列）：{how}")
    sub.add_argument("--risk-ratio", type=float, default=1.0, metavar="R",
                     help="模拟假定风险户的漏评概率为同村其他户的 R 倍（同村漏评率不变；默认 1，"
                          "即风险户与其他户相同，加抽只使权数不等）；只在 --risk-factor 大于 1 时起作用")


def _register_path(args: argparse.Namespace, command: str) -> Path:
    from .io.datadir import DataDir

    if args.year is None:
        raise QuchiStatsError(f"{command} 需要 --year（考核年度）")
    if args.register is None and args.data is None:
        raise QuchiStatsError(f"{command} 需要 --register FILE 或 --data DIR")
    return args.register if args.register is not None else DataDir(args.data).register(args.year)


def _register_options(sub: argparse.ArgumentParser) -> None:
    """--sheet and --columns, shared by every command that reads the register."""
    sub.add_argument("--sheet", help="台账工作表名（或从 1 起的序号）；默认读取全部有内容的工作表"
                                     "（表头相同则合并），report、fieldlist 默认沿用抽样清单记录的工作表")
    sub.add_argument("--columns", type=Path, metavar="FILE.toml",
                     help="列名对照文件：[columns] 一节，每行 导出表头 = \"列名\""
                          "（如 \"农户编码\" = \"户编号\"）")


def _columns(args: argparse.Namespace) -> dict[str, str] | None:
    from .io.readers import load_columns

    return load_columns(args.columns) if getattr(args, "columns", None) is not None else None


def _parents() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, defined once (argparse ``parents=``)."""
    def parent(*args, **kwargs) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument(*args, **kwargs)
        return p

    out = {
        "year": parent("--year", type=int, required=True, help="考核年度"),
        "data": parent("--data", type=Path, help="数据目录（默认：随包附带的合成数据 data_samples/）"),
        "spec": parent("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）"),
        "force": parent("--force", action="store_true",
                        help="替换已有的输出（不加时已有的不同输出不会被覆盖）"),
        "encoding": parent("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）"),
        "no_verify": parent("--no-verify", action="store_true",
                            help="不核对抽查样本与抽样清单（manifest.json）"),
        "debug": parent("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS),
    }
    register = argparse.ArgumentParser(add_help=False)
    _register_options(register)
    out["register"] = register
    return out


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="quchi-stats", description=("扶贫开发工作成效考核统计工具（quchi_stats）："
                                               "抽样设计、入户核查结果、估计、第七条判定和考核报告"))
    parser.add_argument("--version", action="version", version=f"quchi_stats {__version__}",
                        help="显示版本号并退出")
    parser.add_argument("--debug", action="store_true", help="出错时显示完整的 Python 调用栈")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    P = _parents()

    def command(name: str, *shared: str, **kwargs) -> argparse.ArgumentParser:
        # --debug is accepted after the command too (without overriding it when given before)
        return sub.add_parser(name, parents=[P[k] for k in ("debug", *shared)], **kwargs)

    d = command("design", "force", "encoding", "register",
                help="设计并抽取年度入村入户抽查样本，或核验抽样清单",
                description="两阶段抽样：镇内抽村（默认按建档立卡户数 PPS 系统抽样），"
                            "村内分三个抽样框按户编号系统抽户，并抽取备选户。")
    d.add_argument("--register", type=Path, help="农户台账文件（.csv、.xlsx 或 .xls）")
    d.add_argument("--data", type=Path, help="数据目录（含 register_YYYY）；代替 --register")
    d.add_argument("--year", type=int, help="考核年度（--verify 时不需要）")
    d.add_argument("--out", type=Path, help="输出目录（默认：数据目录下的 sample_YYYY/）")
    d.add_argument("--seed", type=int, help="随机种子（默认随机生成并记入清单）")
    d.add_argument("--verify", type=Path, metavar="MANIFEST",
                   help="按清单重新抽样并核验样本完全一致")
    _plan_options(d)
    d.add_argument("--reserves", type=int, default=_plan_default("reserves"),
                   help=f"每村每框备选户数（默认 {_plan_default('reserves')}）")
    d.add_argument("--risk-factor", type=float, default=_plan_default("risk_factor"), metavar="K",
                   help="非建档立卡户中风险户（台账的低保、危房、大病/慢性病、残疾、独居老人任一为“是”）"
                        "的入样概率为其他户的 K 倍，用于漏评（默认 1，不加抽；台账须有这些列）")
    d.add_argument("--spec", type=Path,
                   help="考核参数 TOML 文件：按其乡镇顺序（towns）抽样，其 [followup] 复核规则登记入清单"
                        "（不给：乡镇按台账中首次出现的顺序，不登记复核规则）")
    d.add_argument("--plan", type=Path, metavar="FILE.toml",
                   help="按 quchi-stats plan 写出的抽样计划抽样（代替 --villages、--households 等抽样参数）；"
                        "计划文件的 SHA-256 和全文记入清单")
    d.set_defaults(func=_cmd_design)

    pl = command("plan", "year", "data", "spec", "force", "encoding", "register",
                 help="在预算内选出成本最优的单阶段抽查设计，写出抽样计划文件",
                 description="按每村费用、每户费用和预算，选出全县（区）抽村数（各镇等量分配）和每村各抽样框"
                             "抽户数，使一个镇比标准低 --shortfall 时最弱镇被判定偏低的把握度最大；"
                             "村内相关系数按指标给出（--icc）或由数据目录中往年的抽查结果估计。"
                             "用解析近似搜索，再用模拟（--reps 次）核对所选设计和默认设计。")
    pl.add_argument("--register", type=Path, help="农户台账文件（默认：数据目录中的 register_YYYY）")
    budget = pl.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-yuan", type=float, help="预算（元）")
    budget.add_argument("--budget-households", type=float,
                        help="预算折合户数：按默认设计每户（含分摊的进村费用）的费用折算成元")
    pl.add_argument("--village-cost", type=float, default=1000.0, help="每个村的进村费用（元，默认 1000）")
    pl.add_argument("--household-cost", type=float, default=100.0, help="每户入户费用（元，默认 100）")
    pl.add_argument("--icc", nargs="+", metavar="指标=数值", default=None,
                    help="按指标给出村内相关系数，如 satisfaction_rate=0.05；未给出的指标由往年结果估计")
    pl.add_argument("--shortfall", type=float, default=0.10, help="偏低镇比标准低多少（默认 0.10）")
    pl.add_argument("--indicators", help="选设计时考虑的指标，逗号分隔（默认第七条（四）的四项比率）")
    pl.add_argument("--reps", type=int, default=200,
                    help="模拟核对的重复次数（默认 200；0 = 不模拟）")
    pl.add_argument("--seed", type=int, default=0, help="模拟的随机种子（默认 0）")
    _risk_options(pl, "计划（及对照的默认设计）沿用此值写入计划文件；解析搜索不考虑风险户加抽，"
                      "模拟核对按它抽样")
    pl.add_argument("--out", type=Path, required=True, help="输出的抽样计划文件（.toml）")
    pl.set_defaults(func=_cmd_plan)

    r = command("report", "year", "data", "spec", "force", "encoding", "register",
                help="生成年度考核报告（HTML、CSV、Excel）",
                description="估计各镇各项指标，按第七条标记问题，写出 考核报告.html、estimates.csv、"
                            "flags.csv 和 考核报告.xlsx。")
    r.add_argument("--out", type=Path, help="输出目录（默认 reports/YYYY/）")
    r.add_argument("--no-verify", action="store_true",
                   help="不核对抽查样本与抽样清单（manifest.json）；报告首屏将醒目注明“未核验”")
    r.set_defaults(func=_cmd_report)

    f = command("fieldlist", "year", "data", "force", "encoding", "register",
                help="为入户小组生成抽查户名单（默认不含个人信息）",
                description="按抽查样本列出各村正选户和备选户（按备选顺序）。户主姓名、证件号码、"
                            "联系电话只有加 --include-personal-data 时才写入。")
    f.add_argument("--out", type=Path,
                   help="输出文件：.xlsx 为录入工作簿（每镇一张表，下拉选择，填好后存为 "
                        "results_YYYY.xlsx 即为核查结果）；.csv 为名单")
    f.add_argument("--followup", action="store_true",
                   help="复核（第二阶段）样本 followup_YYYY/sample.csv 的名单或录入表（先核对其复核清单）；"
                        "工作表名为“复核-镇名”，不会与第一阶段的镇表重名")
    f.add_argument("--into", type=Path, metavar="RESULTS_XLSX",
                   help="与 --followup 同用：把空白的复核录入表加入已填好的 results_YYYY.xlsx"
                        "（第一阶段各表原样保留；已有复核表时须加 --force，且其中已填内容会被清空）")
    f.add_argument("--spec", type=Path,
                   help="考核参数 TOML 文件（决定各抽样框需填哪些结果；默认：内置的当年参数）")
    f.add_argument("--include-personal-data", action="store_true",
                   help="写入户主姓名、证件号码、联系电话（仅供入户小组，注意保密）")
    f.set_defaults(func=_cmd_fieldlist)

    c = command("check", "year", "data", "spec", "no_verify", "encoding",
                help="一次核对当年全部输入，列出每一处问题",
                description="核对农户台账、抽查样本（及其抽样清单）、核查结果、乡镇自评、"
                            "年度减贫任务和考核参数，每个问题一行：文件、工作表、行、列、值和应为什么。"
                            "有问题时退出状态为 2，没有问题时为 0。")
    c.set_defaults(func=_cmd_check)

    w = command("power", "year", "data", "spec", "force", "encoding", "register",
                help="模拟比较抽查设计：各镇被判定偏低的把握度与误判率",
                description="按台账和抽查设计重复模拟抽样、入户结果、估计和判定（第七条（四）），"
                            "报告每个镇、每项指标在真实比率低于标准 --shortfall 时被判定偏低的"
                            "概率，以及全部达标时的误判率、区间覆盖率和平均宽度。")
    w.add_argument("--register", type=Path, help="农户台账文件（.csv、.xlsx 或 .xls）；代替 --data")
    _plan_options(w)
    w.add_argument("--reps", type=int, default=2000, help="重复模拟次数（默认 2000）")
    w.add_argument("--icc", type=_icc_arg, default=0.05, metavar="ICC",
                   help="村内相关系数：一个数（默认 0.05），或按指标给出，如 "
                        "satisfaction_rate=0.1,exit_accuracy=0.02（未列出的指标取 0.05）")
    w.add_argument("--shortfall", type=float, help="偏低镇比标准低多少（默认取考核参数的 power_shortfall）")
    w.add_argument("--compliant", type=float, help="达标镇的真实比率（默认：标准与 1 的中点）")
    w.add_argument("--indicators", help="模拟的指标，逗号分隔（默认四项比率）")
    w.add_argument("--seed", type=int, default=0, help="随机种子（默认 0）")
    _risk_options(w, "模拟与抽样相同地按风险户和其他户分子框抽户")
    w.add_argument("--out", type=Path, help="把结果表写成 CSV（中文表头）")
    w.add_argument("--followup", action="store_true",
                   help="模拟整个两阶段复核（考核参数 [followup] 的规则，--spec 指定）：全部达标时和"
                        "偏低时（每次三个镇的各项复核指标同时低 --shortfall）各镇 × 指标被判定偏低的"
                        "比例、误判率（按当年实际比率和按假定平均比率）和复核户数")
    w.set_defaults(func=_cmd_power)

    sp = command("spec", "year", "force",
                 help="为新的年度（或另一个县）写出可编辑的考核参数文件",
                 description="从最新的内置考核参数（或 --from 指定的文件）生成某年度的考核参数 TOML，"
                             "并列出必须核对的字段（尤其是当年退出收入线）。")
    sp.add_argument("--county", help="县（区）名称（写入标题和正文）")
    sp.add_argument("--from", dest="source", type=Path,
                    help="以这个考核参数文件为底本（默认：最新的内置参数）")
    sp.add_argument("--out", type=Path, required=True, help="输出的 TOML 文件")
    sp.set_defaults(func=_cmd_spec)

    fu = command("followup", "year", "force", "encoding",
                 help="按事先登记的规则抽取两阶段复核样本",
                 description="核验第一阶段样本与清单，按考核参数重新计算第一阶段检验，"
                             "找出单侧 P 值落在复核区间的镇 × 指标，"
                             "在这些镇未入样的村中再抽村入户，写出 "
                             "数据目录/followup_YYYY/（sample.csv 与 manifest.json）。")
    fu.add_argument("--data", type=Path, required=True, help="数据目录（含 sample_YYYY/ 与 results_YYYY）")
    fu.add_argument("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）；其 [followup] "
                                              "须与第一阶段清单登记的规则相同")
    fu.add_argument("--seed", type=int, help="随机种子（默认随机生成并记入清单）")
    fu.set_defaults(func=_cmd_followup)

    nb = command("notebook", "year", "spec", "force",
                 help="为数据目录写出并执行年度分析笔记本（.ipynb）",
                 description="按随包附带的模板写出当年的分析笔记本（数据检查、指标估计、第七条标记、"
                             "图表、与往年比较），逐格执行并保存输出。执行需要 notebook 扩展："
                             "pip install \"quchi-stats[notebook]\"；--no-execute 只写出、不执行。")
    nb.add_argument("--data", type=Path, required=True, help="数据目录（含 register_YYYY、sample_YYYY/ 等）")
    nb.add_argument("--out", type=Path, required=True, help="输出的笔记本文件（.ipynb）")
    nb.add_argument("--no-execute", action="store_true", help="只写出笔记本，不执行（不需要 notebook 扩展）")
    nb.set_defaults(func=_cmd_notebook, encoding=None, no_verify=False)

    s = command("synth", "force", help="生成合成数据目录（模拟数据，仅供演示和测试）")
    s.add_argument("--out", type=Path, required=True, help="输出目录")
    s.add_argument("--seed", type=int, default=20160101)
    s.add_argument("--scale", type=float, default=1.0, help="每村户数的缩放比例")
    s.set_defaults(func=_cmd_synth)
    return parser


def _cmd_design(args: argparse.Namespace) -> int:
    from .io.datadir import DataDir
    from .sampling import draw_from_file, new_seed, verify_manifest, write_sample

    if args.verify is not None:
        report = verify_manifest(args.verify, register=args.register)
        print(report)
        return 0
    plan_file = None
    if args.plan is not None:
        from .planning import read_plan

        given = _plan_options_given(args)
        if given:
            raise QuchiStatsError(f"--plan 与 {'、'.join(given)} 不能同时使用：抽样参数都取自计划文件")
        plan_file = read_plan(args.plan, year=args.year)
        if args.year is None:
            args.year = plan_file.plan.year
    register = _register_path(args, "design")
    out = args.out
    if out is None:
        base = args.data if args.data is not None else register.parent
        out = DataDir(base).sample_dir(args.year)
    from .spec import load_spec

    spec = load_spec(args.spec, year=args.year) if args.spec is not None else None
    rule = spec.followup if spec is not None else None
    # the spec's town order, else the register's (first appearance); recorded in the manifest
    towns = spec.towns if spec is not None else ()
    if plan_file is not None:
        plan = plan_file.plan if not towns else dataclasses.replace(plan_file.plan, towns=towns)
    else:
        plan = _plan_from_args(args, reserves=args.reserves, towns=towns,
                               risk_factor=args.risk_factor)
    seed = args.seed if args.seed is not None else new_seed()
    columns = _columns(args)
    result = draw_from_file(register, plan, seed, encoding=args.encoding, sheet=args.sheet,
                            columns=columns)
    outcome = write_sample(result, out, register, force=args.force, encoding=args.encoding,
                           sheet=args.sheet, columns=columns, followup=rule,
                           plan_file=plan_file.to_manifest() if plan_file is not None else None)
    if plan_file is not None:
        print(f"按抽样计划 {args.plan} 抽样（SHA-256 {plan_file.sha256[:12]}…，全文已记入清单）。")
    if rule is not None:
        print(f"已在清单中登记两阶段复核规则（{'、'.join(rule.indicators)}；抽样后不能更改）。")
    print(result)
    print(result.to_frame(chinese=True).to_string(index=False))
    for note in result.notes:
        print("说明：" + note)
    if outcome.unchanged:
        print(f"{outcome.sample_path} 已存在且与本次抽样完全相同，未改动。")
    else:
        print(f"已写出 {outcome.sample_path} 和 {outcome.manifest_path}")
    if outcome.replaced is not None:
        print(f"被替换的样本及其清单保留在 {outcome.replaced}（替换留有记录）")
    print(verify_manifest(outcome.manifest_path))
    return 0


#: The plan options of ``design`` (dest, option) that ``--plan`` replaces.
_PLAN_DESTS = (("villages", "--villages"), ("allocation", "--allocation"),
               ("min_villages", "--min-villages"), ("village_method", "--village-method"),
               ("village_order", "--village-order"), ("certainty_priority", "--certainty-priority"),
               ("households", "--households"), ("fraction", "--fraction"),
               ("min_households", "--min-households"), ("household_method", "--household-method"),
               ("anticipated_p", "--anticipated-p"), ("anticipated_deff", "--anticipated-deff"),
               ("reserves", "--reserves"), ("risk_factor", "--risk-factor"))


def _plan_options_given(args: argparse.Namespace) -> list[str]:
    """The plan options given on the command line (those that differ from their defaults)."""
    defaults = _build_parser().parse_args(["design"])
    return [opt for dest, opt in _PLAN_DESTS if getattr(args, dest) != getattr(defaults, dest)]


def _icc_pairs(items: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise QuchiStatsError(f"--icc 应为“指标=数值”，实际为 {part!r}")
            k, v = part.split("=", 1)
            try:
                out[k.strip()] = float(v)
            except ValueError:
                raise QuchiStatsError(f"--icc {k.strip()} 的值应为数值，实际为 {v!r}") from None
    return out


def _cmd_plan(args: argparse.Namespace) -> int:
    from .datasets import data_path
    from .errors import OutputExistsError
    from .io.datadir import DataDir
    from .io.readers import read_table
    from .planning import (
        PLAN_INDICATORS,
        CostModel,
        ICCEstimate,
        confirm_plan,
        estimate_icc,
        optimise_plan,
        write_plan,
    )
    from .spec import load_spec

    data = args.data if args.data is not None else data_path()
    if args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    spec = load_spec(args.spec if args.spec is not None else args.year, year=args.year)
    register_file = args.register if args.register is not None else DataDir(data).register(
        args.year)
    register = read_table(register_file, "register", encoding=args.encoding, sheet=args.sheet,
                          columns={**spec.columns, **(_columns(args) or {})} or None)
    names = ([n.strip() for n in args.indicators.split(",") if n.strip()]
             if args.indicators else list(PLAN_INDICATORS))
    given = _icc_pairs(args.icc)
    unknown = [k for k in given if k not in names]
    if unknown:
        raise QuchiStatsError(f"--icc 中的指标 {'、'.join(unknown)} 不在所选指标 {'、'.join(names)} 中")
    for k, v in given.items():
        if not 0 <= v < 1:
            raise QuchiStatsError(f"--icc {k} 应在 [0, 1) 内，实际为 {v:g}")
    icc: dict[str, ICCEstimate] = {k: ICCEstimate(k, v, v, v, "given") for k, v in given.items()}
    rest = [n for n in names if n not in icc]
    if rest:
        icc.update(estimate_icc(data, args.year, spec=spec, indicators=rest))
    icc = {n: icc[n] for n in names}
    cost = CostModel(village=args.village_cost, household=args.household_cost)
    from .sampling import DesignPlan

    result = optimise_plan(register, args.year, spec=spec, icc=icc, cost=cost,
                           budget_yuan=args.budget_yuan,
                           budget_households=args.budget_households, indicators=names,
                           shortfall=args.shortfall,
                           default=DesignPlan(year=args.year, risk_factor=args.risk_factor))
    if args.reps:
        result = confirm_plan(register, result, reps=args.reps, seed=args.seed, spec=spec,
                              risk_ratio=args.risk_ratio)
    print(result)
    print(_plan_table(result).to_string(index=False))
    up = result.settings["power_at_upper"]
    labels = dict(zip(result.table["indicator"], result.table["label"], strict=False))
    print("村内相关系数取区间上限时，成本最优设计的最弱镇把握度（解析）："
          + "、".join(f"{labels.get(k, k)} {v:.1%}" for k, v in up.items()))
    if result.plan.risk_factor > 1:
        print(f"风险户加抽 risk_factor = {result.plan.risk_factor:g}："
              "计划和默认设计都沿用它（写入计划文件）；解析搜索不考虑加抽，"
              + (f"模拟核对按它抽样（假定风险户漏评概率为其他户的 {args.risk_ratio:g} 倍）。"
                 if args.reps else "未做模拟核对。"))
    if args.reps:
        print(f"模拟：{args.reps} 次重复（种子 {args.seed}），把握度的蒙特卡罗标准误约 "
              f"√(P(1−P)/{args.reps})，如 P = 20% 时 {(0.2 * 0.8 / args.reps) ** 0.5:.1%}。")
    else:
        print("未做模拟核对（--reps 0）：解析把握度只用于比较设计，实际把握度请用模拟核对。")
    path = write_plan(result, args.out, force=args.force)
    print(f"已写出 {path}；抽样：quchi-stats design --plan {path} --data 数据目录")
    return 0


def _plan_table(result) -> object:
    """The plan beside the default design, one row per design and indicator, in Chinese."""
    t = result.to_frame()
    out = t[["design", "label"]].copy()
    out["design"] = out["design"].map({"plan": "成本最优", "default": "默认设计"})
    out["最弱镇把握度（解析）"] = t["min_power"].map("{:.1%}".format)
    if "sim_min_power" in t:
        out["最弱镇把握度（模拟）"] = t["sim_min_power"].map("{:.1%}".format)
        out["全部达标时误判率"] = t["sim_familywise"].map("{:.1%}".format)
    out["村数"] = t["villages"]
    out["户数"] = t["households"].round().astype(int)
    out["费用（元）"] = t["yuan"].map("{:,.0f}".format)
    return out.rename(columns={"design": "设计", "label": "指标"})


def _cmd_report(args: argparse.Namespace) -> int:
    from .assessment import run_assessment
    from .datasets import data_path
    from .io.datadir import DataDir
    from .report import write_report

    data = args.data if args.data is not None else data_path()
    out = args.out if args.out is not None else Path("reports") / str(args.year)
    if _list_problems(args, data):
        print("报告未生成：请改正以上问题后重新运行（quchi-stats check 可单独核对）。", file=sys.stderr)
        return 2
    assessment = run_assessment(args.year, data, spec=args.spec, encoding=args.encoding,
                                verify=not args.no_verify, sheet=args.sheet, columns=_columns(args))
    synthetic = any(DataDir(data).root.glob(f"truth_{args.year}.*"))
    paths = write_report(assessment, out, force=args.force, synthetic=synthetic)
    from .report.build import COUNTY_UNNAMED

    county = assessment.spec.county or COUNTY_UNNAMED
    print(f"{county} {args.year} 年考核：{len(assessment.flags)} 项标记，涉及 "
          f"{'、'.join(assessment.flagged_towns) or '无'}；{len(assessment.watch)} 项需关注。")
    for _, f in assessment.flags.iterrows():
        print(f"  {f['town']} {f['article']} {f['item']}")
    if assessment.followup is not None:  # the two-phase 复核 (docs/followup.md)
        fu = assessment.followup
        n_flag = int(fu.findings["flag"].sum())
        print(f"两阶段复核：{len(fu.findings)} 个镇×指标合并两阶段判定，其中 {n_flag} 项显著偏低；"
              f"复核 {len(fu.costs)} 个镇、入户 {int(fu.costs['households'].sum())} 户。")
    for note in assessment.notes:
        print("说明：" + note)
    for p in paths:
        print(f"已写出 {p}")
    if not assessment.verified:
        print("注意：未核验抽样清单（--no-verify）：报告首屏已注明，核验通过前不能作为考核依据。",
              file=sys.stderr)
    return 0


def _cmd_fieldlist(args: argparse.Namespace) -> int:
    from .datasets import data_path
    from .errors import OutputExistsError
    from .io.datadir import DataDir
    from .io.entry import answers_by_frame, entry_workbook_bytes
    from .io.readers import read_table
    from .io.writers import atomic_write_bytes, write_csv
    from .sampling.fieldlist import field_list
    from .spec import load_spec

    if (args.out is None) == (args.into is None):
        raise QuchiStatsError("请用 --out 指定输出文件，或与 --followup 同用 --into 指定 "
                              "results_YYYY.xlsx；二者只用其一")
    if args.into is not None and not args.followup:
        raise QuchiStatsError("--into 只用于把复核录入表加入核查结果工作簿，须与 --followup 同用")
    target = args.out if args.out is not None else args.into
    suffix = target.suffix.lower()
    if args.into is not None and suffix != ".xlsx":
        raise QuchiStatsError(f"--into {args.into}：应为已填好的 .xlsx 入户核查结果工作簿")
    if suffix not in (".csv", ".xlsx"):
        raise QuchiStatsError(f"--out {args.out}：应为 .xlsx（录入工作簿）或 .csv（名单）文件")
    if suffix == ".xlsx" and args.include_personal_data:
        raise QuchiStatsError("录入工作簿不写个人信息：--include-personal-data 只能用于 .csv 名单")
    root = DataDir(args.data if args.data is not None else data_path())
    if args.out is not None and args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    from .sampling.manifest import register_options

    fu_spec = None
    if args.into is not None and not args.force:  # said before the follow-up's verification
        from .io.entry import is_followup_sheet, result_sheets

        there = [t for t in (result_sheets(args.into) or []) if is_followup_sheet(t)]
        if there:
            raise OutputExistsError(f"{args.into.name} 中已有复核工作表（{'、'.join(there)}）；如需换成"
                                    f"空白复核表（其中已填的复核结果将被删除），请加 --force。")
    if args.followup:
        sample, fu_spec = _followup_sample(root, args.year)
    else:
        sample = read_table(root.sample_dir(args.year) / "sample.csv", "sample")
    recorded = register_options(root.sample_dir(args.year))  # read the register as design did
    columns = {**(recorded.get("columns") or {}), **(_columns(args) or {})}
    register = read_table(root.register(args.year), "register",
                          encoding=args.encoding or recorded.get("encoding"),
                          sheet=args.sheet if args.sheet is not None else recorded.get("sheet"),
                          columns=columns or None)
    table = field_list(sample, register, include_personal_data=args.include_personal_data)
    if suffix == ".xlsx":
        spec_ref = (args.spec if args.spec is not None
                    else fu_spec if fu_spec is not None else args.year)
        spec = load_spec(spec_ref, year=args.year)
        n_res = int((sample["role"] != "primary").sum())
        results_xlsx = root.root / f"results_{args.year}.xlsx"
        if args.into is not None:
            from .io.entry import add_followup_sheets

            added = add_followup_sheets(args.into, sample, args.year, answers_by_frame(spec),
                                        towns=spec.towns, force=args.force)
            print(f"已把 {len(added)} 张复核录入表（{'、'.join(added)}）加入 {args.into}："
                  f"{len(sample)} 户，其中备选户 {n_res} 户（未启用请留空）；第一阶段各表未改动。")
            print("在这些表中填好复核结果后保存，再运行 quchi-stats check 和 quchi-stats report。")
            return 0
        atomic_write_bytes(args.out, entry_workbook_bytes(sample, args.year,
                                                          answers_by_frame(spec),
                                                          towns=spec.towns,
                                                          followup=args.followup))
        if args.followup:
            print(f"已写出复核录入工作簿 {args.out}：{sample['town'].nunique()} 个镇（每镇一张表，"
                  f"表名“复核-镇名”），{len(sample)} 户，其中备选户 {n_res} 户（未启用请留空）；"
                  f"不含个人信息。")
            print(f"填好后把这些表移入（或复制到）{results_xlsx}（或先用 --into 把空白复核表加入其中，"
                  f"直接在其中填写），再运行 quchi-stats check。")
            return 0
        print(f"已写出录入工作簿 {args.out}：{sample['town'].nunique()} 个镇（每镇一张表），"
              f"{len(sample)} 户，其中备选户 {n_res} 户（未启用请留空）；不含个人信息。")
        print(f"填好后存为 {results_xlsx}，再运行 quchi-stats check。")
        return 0
    write_csv(table, args.out, chinese_headers=True, allow_personal=args.include_personal_data)
    extra = "（含个人信息，注意保密）" if args.include_personal_data else "（不含个人信息）"
    print(f"已写出 {args.out}：{len(table)} 户{extra}")
    return 0


def _followup_sample(root: Any, year: int) -> tuple[Any, Path | None]:
    """``fieldlist --followup``: the follow-up sample, verified against its manifest first, and
    the spec file its manifest records (None: the built-in one)."""
    from .followup import verify_followup
    from .io.readers import read_table
    from .sampling.manifest import read_manifest

    folder = root.root / f"followup_{year}"
    if not (folder / "manifest.json").is_file():
        raise QuchiStatsError(f"{root.root} 中没有 {year} 年的复核样本（{folder.name}/）：须先运行 "
                              f"quchi-stats followup --year {year} 抽取复核样本")
    verify_followup(folder / "manifest.json")
    spec_file = read_manifest(folder / "manifest.json")["spec"]["file"]
    return (read_table(folder / "sample.csv", "sample"),
            None if spec_file is None else folder / spec_file)


def _cmd_power(args: argparse.Namespace) -> int:
    from .datasets import data_path
    from .errors import OutputExistsError, ParameterError
    from .io.readers import read_table
    from .io.writers import atomic_write_bytes, csv_bytes
    from .simulate import DEFAULT_INDICATORS, simulate_design
    from .spec import load_spec

    if args.data is None and args.register is None:
        args.data = data_path()
    register_file = _register_path(args, "power")
    if args.out is not None and args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    spec = load_spec(args.spec if args.spec is not None else args.year, year=args.year)
    plan = _plan_from_args(args, towns=spec.towns, risk_factor=args.risk_factor)
    if args.followup and (plan.risk_factor > 1 or args.risk_ratio != 1):
        # the 复核 simulation draws phase 1 without risk strata: say so rather than ignore them
        raise ParameterError("power --followup 尚不能模拟风险户加抽（--risk-factor、--risk-ratio）："
                             "两阶段复核的模拟按不分风险户的第一阶段抽样；请去掉这两个选项，"
                             "或不加 --followup 单独模拟第一阶段。")
    if args.followup:  # refuse a missing rule before reading the register
        _followup_rule(spec, [n.strip() for n in args.indicators.split(",") if n.strip()]
                       if args.indicators else None)
    register = read_table(register_file, "register", encoding=args.encoding, sheet=args.sheet,
                          columns={**spec.columns, **(_columns(args) or {})} or None)
    names = ([n.strip() for n in args.indicators.split(",") if n.strip()]
             if args.indicators else list(DEFAULT_INDICATORS))
    if args.followup:
        table = _power_followup(args, spec, plan, register,
                                names if args.indicators else None)
        if args.out is not None:
            atomic_write_bytes(args.out, csv_bytes(table))
            print(f"已写出 {args.out}")
        return 0
    bar = _ProgressBar("模拟") if sys.stderr.isatty() else None
    result = simulate_design(register, plan, spec=spec, indicators=names,
                             compliant=args.compliant, shortfall=args.shortfall, icc=args.icc,
                             reps=args.reps, seed=args.seed, risk_ratio=args.risk_ratio,
                             progress=bar)
    if bar is not None:
        bar.close()
    print(result)
    print(result.to_frame(chinese=True).round(3).to_string(index=False))
    if args.out is not None:
        atomic_write_bytes(args.out, csv_bytes(result.to_frame(chinese=True)))
        print(f"已写出 {args.out}")
    return 0


#: ``power --followup``: the towns low at once in each shortfall scenario (the issue's three)
FOLLOWUP_LOW_TOWNS = 3

_METHOD_ZH = {"conditional": "条件检验（按当年实际比率，复核在各村第一阶段未入户的户中抽取）",
              "inverse-normal": "逆正态合并（复核在未入样的村中抽取）"}


def _followup_rule(spec: Any, names: list[str] | None) -> tuple[Any, list[str]]:
    """The spec's [followup] rule and the indicators ``power --followup`` simulates (the rule's,
    or ``names``, each of which must be in the rule)."""
    from .errors import DataError

    rule = spec.followup
    where = spec.path or f"内置的 {spec.year} 年度考核参数"
    if rule is None:
        raise DataError(f"{where} 没有 [followup] 复核规则：--followup 模拟的是考核参数登记的两阶段"
                        "复核，请用 --spec 指定含 [followup] 的考核参数（docs/followup.md）")
    if names is None:
        return rule, list(rule.indicators)
    bad = [n for n in names if n not in rule.indicators]
    if bad:
        raise DataError(f"--indicators 中的 {'、'.join(bad)} 不在 {where} 的 [followup] 复核规则中："
                        f"应为 {', '.join(rule.indicators)} 中的指标")
    return rule, names


def _power_followup(args: argparse.Namespace, spec: Any, plan: Any, register: Any,
                    names: list[str] | None) -> Any:
    """``power --followup``: :func:`~quchi_stats.followup.simulate.simulate_followup` with the spec's rule,
    every town compliant (seed) and, for each group of :data:`FOLLOWUP_LOW_TOWNS` towns in the
    spec's order, those towns ``shortfall`` below every simulated standard (seed + 1, + 2, …).
    Prints the figures in Chinese and returns the per town × indicator table (Chinese headers)."""
    import pandas as pd

    from .followup.simulate import simulate_followup
    from .labels import column_labels

    rule, inds = _followup_rule(spec, names)
    shortfall = spec.power_shortfall if args.shortfall is None else args.shortfall
    common = dict(spec=spec, indicators=inds, icc=args.icc, reps=args.reps)
    thr = {i: spec.indicator(i).threshold for i in inds if i in rule.indicators}
    comp = simulate_followup(register, plan, rule, truth=args.compliant, seed=args.seed, **common)
    towns = list(comp.table["town"].drop_duplicates())
    base = comp.table.set_index(["indicator", "town"])["true_rate"]
    groups = [towns[k:k + FOLLOWUP_LOW_TOWNS] for k in range(0, len(towns), FOLLOWUP_LOW_TOWNS)]
    runs = []
    for k, group in enumerate(groups):
        truth = {i: {t: (thr[i] - shortfall if t in group else float(base[(i, t)]))
                     for t in towns} for i in thr}
        runs.append((group, simulate_followup(register, plan, rule, truth=truth,
                                              seed=args.seed + 1 + k, **common)))
    s = comp.summary
    print(f"两阶段复核模拟：{args.reps} 次重复（种子 {args.seed} 起），第一阶段 {plan.villages_total} 个村、"
          f"平均 {s['phase1_households']:.0f} 户；复核方法：{_METHOD_ZH.get(rule.method, rule.method)}；"
          f"ICC {args.icc}")
    level = "取标准与 1 的中点" if args.compliant is None else f" {args.compliant:g}"
    print(f"全部达标（真实比率{level}）：")
    print(f"  误判（任一达标的镇 × 指标被判定显著偏低）的重复比例：按当年实际比率 "
          f"{s['familywise_false_flag_actual']:.1%}（仅第一阶段 "
          f"{s['familywise_false_flag_actual_phase1']:.1%}），按假定平均比率 "
          f"{s['familywise_false_flag']:.1%}")
    print(f"  复核户数：平均每次 {s['extra_households']:.0f} 户，占第一阶段的 "
          f"{s['extra_households'] / s['phase1_households']:.1%}")
    print(f"偏低（每次 {FOLLOWUP_LOW_TOWNS} 个镇的各项指标同时比标准低 {shortfall:g}，其余达标；"
          f"共 {len(groups)} 组）：")
    rows = []
    for k, (group, res) in enumerate(runs):
        r = res.summary
        print(f"  第 {k + 1} 组（{'、'.join(group)}）：误判按实际比率 "
              f"{r['familywise_false_flag_actual']:.1%}、按假定平均比率 "
              f"{r['familywise_false_flag']:.1%}；达标镇复核户数占其第一阶段 "
              f"{r['compliant_extra_share']:.1%}；平均复核 {r['extra_households']:.0f} 户"
              f"（偏低镇 {r['shortfall_extra_households']:.0f} 户）")
        t = res.table
        for row in t[t["town"].isin(group)].itertuples():
            rows.append({"town": row.town, "label": row.label, "threshold": row.threshold,
                         "true_rate": row.true_rate, "flag_rate": row.flag_rate,
                         "flag_rate_phase1": row.flag_rate_phase1,
                         "followup_rate": row.followup_rate, "extra_households": row.extra_households,
                         "phase1_households": row.phase1_households})
    table = pd.DataFrame(rows).rename(columns=column_labels("followup_power"))
    low = table["两阶段判定比例"]
    print(f"  偏低的镇 × 指标被判定的比例：最低 {low.min():.1%}，平均 {low.mean():.1%}"
          f"（仅第一阶段最低 {table['仅第一阶段判定比例'].min():.1%}）")
    print(table.round(3).to_string(index=False))
    return table


class _ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label, self.width = label, width

    def __call__(self, done: int, total: int) -> None:
        filled = int(self.width * done / max(total, 1))
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _cmd_spec(args: argparse.Namespace) -> int:
    from .spec import KEYS_TO_CHECK, latest_bundled_year, write_spec

    out = write_spec(args.year, args.out, county=args.county, source=args.source,
                     force=args.force)
    base = args.source if args.source is not None else f"内置的 {latest_bundled_year()} 年度参数"
    print(f"已写出 {out}（以 {base} 为底本，year = {args.year}）。")
    print("使用前请逐项核对并修改：")
    for key, why in KEYS_TO_CHECK:
        print(f"  - {key}：{why}")
    print(f"改好后用 quchi-stats check --year {args.year} --data 数据目录 --spec {out} 核对。")
    return 0


def _cmd_followup(args: argparse.Namespace) -> int:
    from .followup import run_followup

    out = run_followup(args.year, args.data, spec=args.spec, seed=args.seed, force=args.force,
                       encoding=args.encoding)
    rule = out.rule
    conditional = rule.method == "conditional"
    labels = {r["indicator"]: r["label"] for _, r in out.estimates.iterrows()}
    from .labels import p_statement, threshold_text

    if conditional:
        _print_conditional_rule(out, labels)
    else:
        stop, futility = threshold_text(rule.alpha_stop), threshold_text(rule.alpha_futility)
        names = "、".join(labels.get(i, i) for i in rule.indicators)
        print(f"复核规则（第一阶段抽样时登记）：{names}；"
              f"第一阶段单侧 P ≤ {stop} 直接判定，{stop} < P ≤ {futility} 复核，P > {futility} 不复核；"
              f"每个被筛出的镇在未入样的村中"
              f"再抽 {rule.villages} 个村，复核最多 {rule.max_extra_households} 户。")
        from .followup import critical_value

        c = critical_value(out.spec_alpha, rule.alpha_stop, rule.alpha_futility,
                           rule.weight_phase1)
        print(f"复核后的判定：Z = {rule.weight_phase1:g}·Φ⁻¹(1 − P1) + "
              f"{rule.weight_phase2:.4g}·Φ⁻¹(1 − P2) ≥ {c:.3f}（P2 只用新抽村的户；"
              f"单个检验水平 α = {threshold_text(out.spec_alpha)}，多重比较按考核参数校正）。")
    if out.exhausted:
        print(f"{'、'.join(out.exhausted)}的全部行政村第一阶段都已入样，没有可新抽的村：按第一阶段单独判定，不复核。")
    if out.screened.empty:
        print(f"{args.year} 年没有镇 × 指标落在复核区间，不需要复核，未写出任何文件。")
        return 0
    for r in out.screened.itertuples():
        where = (f"≤ α0 = {threshold_text(rule.futility(r.indicator))}，进入复核" if conditional
                 else "落在复核区间")
        print(f"  {r.town} {r.label}：第一阶段单侧 {p_statement(r.p1)}，{where}")
    fd = out.draw
    for note in fd.notes:
        print("说明：" + note)
    if not out.written:
        print("没有镇能够复核（见上面的说明），未写出任何文件。")
        return 0
    print(fd)
    for t in fd.towns[fd.towns["followed_up"]].itertuples():
        inds = "、".join(labels.get(i, i) for i in t.indicators.split(";"))
        if conditional:
            print(f"  {t.town}：在 {t.villages} 个村（有第一阶段未入户的户的村共 {t.villages_left} 个）"
                  f"抽取第一阶段未入户的 {t.households} 户（{inds}）")
        else:
            print(f"  {t.town}：新抽 {t.villages} 个村（未入样的村共 {t.villages_left} 个），入户 "
                  f"{t.households} 户（{inds}）")
    if out.unchanged:
        print(f"{out.out_dir / 'sample.csv'} 已存在且与本次抽样完全相同，未改动。")
    else:
        print(f"已写出 {out.out_dir / 'sample.csv'} 和 {out.out_dir / 'manifest.json'}")
    if out.replaced is not None:
        print(f"被替换的复核样本及其清单保留在 {out.replaced}（替换留有记录）")
    return 0


_MULTIPLICITY_ZH = {"holm": "Holm", "hochberg": "Hochberg", "bh": "Benjamini–Hochberg"}


def _print_conditional_rule(out, labels: dict) -> None:
    """The conditional method's rule and decision, one line each (``followup``)."""
    from .followup.rule import conditional_share, screen_levels_text
    from .labels import DISTRICT
    from .sampling.draw import _FRAME_ZH, FRAME_NAMES

    rule, spec = out.rule, out.spec
    per = "、".join(_FRAME_ZH[f] + ("全部" if f in rule.census_frames
                                   else f" {rule.households[f]} 户") for f in FRAME_NAMES)
    names = "、".join(labels.get(i, i) for i in rule.indicators)
    print(f"复核规则（第一阶段抽样时登记；条件检验法）：{names}；"
          f"第一阶段单侧 P ≤ α0 = {screen_levels_text(rule, spec)} 的镇 × 指标复核，P > α0 不复核；"
          f"复核的镇在全部行政村（第一阶段入样与否）、复核指标所用的框中，从第一阶段未入户的户里每村每框抽取{per}"
          f"（不足时全部抽取），复核最多 {rule.max_extra_households} 户。")
    towns = out.estimates.loc[out.estimates["town"] != DISTRICT, "town"].nunique()
    n_rule, n_pairs, share = conditional_share(rule, spec, towns)
    how = ("规则给定" if rule.alpha_share is not None
           else f"规则内的镇 × 指标 {n_rule} 个占多重比较族 {n_pairs} 个的比例")
    adjust = ("不做多重比较校正" if spec.multiplicity == "none"
              else f"按 {_MULTIPLICITY_ZH.get(spec.multiplicity, spec.multiplicity)} 校正")
    print(f"复核后的判定：在第一阶段结果已知的条件下，用复核样本检验全镇当年的实际比率是否低于标准"
          f"（条件检验）；水平 α × 份额 = {spec.alpha:g} × {share:.4g}（{how}）= {spec.alpha * share:.4g}，"
          f"在复核的镇 × 指标中{adjust}。")


def _cmd_notebook(args: argparse.Namespace) -> int:
    import time

    from .errors import OutputExistsError
    from .notebook import require_execution, write_notebook

    if args.out.suffix.lower() != ".ipynb":
        raise QuchiStatsError(f"--out {args.out}：应为 .ipynb 笔记本文件")
    if args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    if args.no_execute:
        write_notebook(args.year, args.data, args.out, spec=args.spec, execute=False,
                       force=args.force)
        print(f"已写出 {args.out}（未执行：用 Jupyter 打开后运行全部单元格，或去掉 --no-execute 重新运行）。")
        return 0
    require_execution()
    if _list_problems(args, args.data):
        print("笔记本未生成：请改正以上问题后重新运行（quchi-stats check 可单独核对）。", file=sys.stderr)
        return 2
    start = time.perf_counter()
    write_notebook(args.year, args.data, args.out, spec=args.spec, force=args.force)
    print(f"已写出并执行 {args.out}（用时 {time.perf_counter() - start:.0f} 秒）。")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from .datasets import write_district
    from .errors import OutputExistsError

    if args.out.exists() and not args.out.is_dir():
        raise OutputExistsError(f"{args.out} 已存在且不是目录")
    if args.out.is_dir() and not args.force:
        held = sorted(p.name for p in args.out.iterdir() if _is_data_file(p))
        if held:
            more = f"等 {len(held)} 项" if len(held) > 3 else ""
            raise OutputExistsError(
                f"{args.out} 中已有数据（{'、'.join(held[:3])}{more}）；合成数据会覆盖同名文件。"
                "请换一个空目录，或确认后加 --force。")
    paths = write_district(args.out, seed=args.seed, scale=args.scale)
    print(f"已生成合成数据（合成数据，非真实台账）：{len(paths)} 个文件，位于 {args.out}")
    return 0


def _is_data_file(p: Path) -> bool:
    """What ``synth`` refuses to write beside: a data file or a sample folder (hidden files,
    Thumbs.db and the like do not count)."""
    if p.name.startswith((".", "~$")) or p.name.lower() in ("thumbs.db", "desktop.ini"):
        return False
    return p.is_dir() or p.suffix.lower() in (".csv", ".xlsx", ".xls", ".xlsm", ".json", ".txt")


def _list_problems(args: argparse.Namespace, data: Path) -> int:
    """Run every check of the year (as ``check``); print each problem; return their number.
    The repairs' warnings are left to the run that follows (said once)."""
    from .checks import check_year

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        problems = check_year(args.year, data, spec=args.spec, encoding=args.encoding,
                              verify=not args.no_verify)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"共 {len(problems)} 个问题（{args.year} 年，{data}）。", file=sys.stderr)
    return len(problems)


def _cmd_check(args: argparse.Namespace) -> int:
    from .datasets import data_path

    data = args.data if args.data is not None else data_path()
    from .checks import check_year

    problems = check_year(args.year, data, spec=args.spec, encoding=args.encoding,
                          verify=not args.no_verify)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"共 {len(problems)} 个问题（{args.year} 年，{data}）。", file=sys.stderr)
        return 2
    print(f"{args.year} 年的全部输入已核对，未发现问题（{data}）。")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``quchi-stats``; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    said: dict[str, int] = {}  # each warning once, with its count, when the command ends

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = mask_personal(str(message))
        said[text] = said.get(text, 0) + 1

    error: str | None = None
    status = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", QuchiStatsWarning)
            warnings.showwarning = show
            try:
                with _masked_streams():
                    status = int(args.func(args))
            finally:
                _print_warnings(said)
    except BrokenPipeError:  # `quchi-stats … | head`: the reader has gone; end quietly
        _silence_stdout()
        return 141
    except (QuchiStatsError, FileExistsError) as exc:
        if debug:
            raise
        error = f"错误：{_cli_message(exc)}"
        status = 2
    except KeyboardInterrupt:  # pragma: no cover
        print("已中断", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        error = (f"内部错误（{type(exc).__name__}）：{mask_personal(str(exc))}。请加 --debug 重新运行以查看"
                 "详细信息，并报告此问题。")
        status = 1
    if error is not None:
        try:
            print(error, file=sys.stderr)
        except BrokenPipeError:  # pragma: no cover
            pass
    return status


def _print_warnings(said: dict[str, int]) -> None:
    for text, n in said.items():
        try:
            print(f"注意：{text}" + (f"（共 {n} 次）" if n > 1 else ""), file=sys.stderr)
        except BrokenPipeError:  # pragma: no cover - stderr closed too
            return


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at the null device, so the interpreter's final flush
    does not print “Exception ignored … BrokenPipeError”."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout not a real file
        pass


#: The spelling of Python's keyword argument in a library message, replaced by the option.
_PYTHON_ARGS = (("（force=True）", ""), ("（verify=False）", ""), ("，verify=False", ""))

#: English parameter-check phrases (errors.check_* and the library's own) and their Chinese.
_PARAMETER_ZH = (
    (re.compile(r"must be a number in (\S+)"), r"应为 \1 中的数"),
    (re.compile(r"must be an integer >= (\S+)"), r"应为不小于 \1 的整数"),
    (re.compile(r"must be an integer"), "应为整数"),
    (re.compile(r"must be an int\b"), "应为整数"),
    (re.compile(r"must be one of "), "应为以下之一："),
    (re.compile(r"must (?:be|lie) in "), "应在以下区间内："),
    (re.compile(r"must be >= "), "应不小于 "),
    (re.compile(r"must be <= "), "应不大于 "),
    (re.compile(r"must be > "), "应大于 "),
    (re.compile(r"must be < "), "应小于 "),
    (re.compile(r"must be finite"), "应为有限数"),
    (re.compile(r"must be at least "), "应至少为 "),
    (re.compile(r"must be "), "应为 "),
)
_PARAMETER_GOT = re.compile(r"^(.*?)\. Got (.*?)\.?$")
_PARAMETER_HEAD = re.compile(r"^The '(\w+)' parameter of ([\w.]+) ")


def _cli_message(exc: BaseException) -> str:
    """The one line the command line shows for a user error: in Chinese (a parameter check's
    English message translated), without Python's keyword spelling, personal data masked."""
    from .errors import ParameterError

    text = str(exc)
    for python, cli in _PYTHON_ARGS:
        text = text.replace(python, cli)
    if isinstance(exc, ParameterError):
        m = _PARAMETER_HEAD.match(text)
        if m:
            rest, got = text[m.end():], None
            g = _PARAMETER_GOT.match(rest)
            if g:
                rest, got = g.group(1), g.group(2)
            for pattern, zh in _PARAMETER_ZH:
                rest = pattern.sub(zh, rest)
            text = f"参数 {m.group(1)}（{m.group(2)}）{rest}" + (f"，实际为 {got}。" if got else "")
        else:
            text = f"参数错误：{text}"
    return mask_personal(text)


class _MaskedStream:
    """A text stream that passes everything written to it through :func:`mask_personal`."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(mask_personal(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _masked_streams():
    """While a command runs, every line it prints (stdout and stderr) is masked."""
    with contextlib.redirect_stdout(_MaskedStream(sys.stdout)), \
            contextlib.redirect_stderr(_MaskedStream(sys.stderr)):
        yield


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
