"""The ``quchi-stats`` command line: argument parsing only; each command calls one library function.

Errors in the user's data or options exit with status 2 and one line on stderr; unexpected
internal errors exit with status 1 and a short message (the traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

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
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="显示本帮助并退出")

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


def _hidden_debug(sub: argparse.ArgumentParser) -> None:
    """Accept --debug after the command too (without overriding it when given before)."""
    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                     help=argparse.SUPPRESS)


def _plan_options(sub: argparse.ArgumentParser) -> None:
    """The options of a DesignPlan, shared by ``design`` and ``power``."""
    sub.add_argument("--villages", type=int, default=45, help="全区抽取的行政村数（默认 45，每镇约 5 个）")
    sub.add_argument("--allocation", default="equal",
                     choices=["equal", "proportional", "sqrt", "neyman"], help="村数在镇间的分配方法")
    sub.add_argument("--min-villages", type=int, default=2, help="每镇最少抽村数（默认 2）")
    sub.add_argument("--village-method", default="pps_systematic",
                     choices=["pps_systematic", "sampford", "systematic", "srswor"],
                     help="第一阶段抽村方法（默认 PPS 系统抽样）")
    sub.add_argument("--village-order", default="name", choices=["name", "size"],
                     help="系统抽样时镇内村的排列顺序（隐含分层）：按村名或按建档立卡户数")
    sub.add_argument("--certainty-priority", action="store_true", help="省定贫困村必选入样")
    sub.add_argument("--households", type=lambda s: _frames_arg(s, int), metavar="R,E,N",
                     help="每村抽户数：建档立卡户,当年退出户,非建档立卡户（默认 10,8,8）")
    sub.add_argument("--fraction", type=lambda s: _frames_arg(s, float), metavar="R,E,N",
                     help="按比例抽户（代替 --households），如 0.1,0.2,0.02")
    sub.add_argument("--min-households", type=int, default=2, help="按比例抽户时每村每框最少户数")
    sub.add_argument("--household-method", default="systematic", choices=["systematic", "srswor"])
    sub.add_argument("--anticipated-p", type=float, default=0.95, help="Neyman 分配用的预期比例")
    sub.add_argument("--anticipated-deff", type=float, default=1.5, help="Neyman 分配用的设计效应")


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


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="quchi-stats", description=("扶贫开发工作成效考核统计工具（quchi_stats）："
                                               "抽样设计、入户核查结果、估计、第七条判定和考核报告"))
    parser.add_argument("--version", action="version", version=f"quchi_stats {__version__}",
                        help="显示版本号并退出")
    parser.add_argument("--debug", action="store_true", help="出错时显示完整的 Python 调用栈")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("design", help="设计并抽取年度入村入户抽查样本，或核验抽样清单",
                       description="两阶段抽样：镇内抽村（默认按建档立卡户数 PPS 系统抽样），"
                                   "村内分三个抽样框按户编号系统抽户，并抽取备选户。")
    _hidden_debug(d)
    d.add_argument("--register", type=Path, help="农户台账文件（.csv 或 .xlsx）")
    d.add_argument("--data", type=Path, help="数据目录（含 register_YYYY.csv）；代替 --register")
    d.add_argument("--year", type=int, help="考核年度")
    d.add_argument("--out", type=Path, help="输出目录（默认：数据目录下的 sample_YYYY/）")
    d.add_argument("--seed", type=int, help="随机种子（默认随机生成并记入清单）")
    d.add_argument("--force", action="store_true", help="允许替换已有的、不同的样本")
    d.add_argument("--verify", type=Path, metavar="MANIFEST",
                     help="按清单重新抽样并核验样本完全一致")
    _plan_options(d)
    d.add_argument("--reserves", type=int, default=3, help="每村每框备选户数（默认 3）")
    d.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    _register_options(d)
    d.add_argument("--spec", type=Path,
                   help="考核参数 TOML 文件：其 [followup] 复核规则登记入清单（默认：内置的当年参数）")
    d.set_defaults(func=_cmd_design)

    r = sub.add_parser("report", help="生成年度考核报告（HTML、CSV、Excel）",
                       description="估计各镇各项指标，按第七条标记问题，写出 考核报告.html、estimates.csv、"
                                   "flags.csv 和 考核报告.xlsx。")
    _hidden_debug(r)
    r.add_argument("--year", type=int, required=True, help="考核年度")
    r.add_argument("--data", type=Path, help="数据目录（默认：随包附带的合成数据 data_samples/）")
    r.add_argument("--out", type=Path, help="输出目录（默认 reports/YYYY/）")
    r.add_argument("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）")
    r.add_argument("--force", action="store_true", help="替换已有的报告")
    r.add_argument("--no-verify", action="store_true",
                   help="不核对抽查样本与抽样清单（manifest.json）；报告首屏将醒目注明“未核验”")
    r.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    _register_options(r)
    r.set_defaults(func=_cmd_report)

    f = sub.add_parser("fieldlist", help="为入户小组生成抽查户名单（默认不含个人信息）",
                       description="按抽查样本列出各村正选户和备选户（按备选顺序）。户主姓名、证件号码、"
                                   "联系电话只有加 --include-personal-data 时才写入。")
    _hidden_debug(f)
    f.add_argument("--year", type=int, required=True, help="考核年度")
    f.add_argument("--data", type=Path, help="数据目录（默认：随包附带的合成数据）")
    f.add_argument("--out", type=Path, required=True,
                   help="输出文件：.xlsx 为录入工作簿（每镇一张表，下拉选择，填好后存为 "
                        "results_YYYY.xlsx 即为核查结果）；.csv 为名单")
    f.add_argument("--spec", type=Path,
                   help="考核参数 TOML 文件（决定各抽样框需填哪些结果；默认：内置的当年参数）")
    f.add_argument("--include-personal-data", action="store_true",
                     help="写入户主姓名、证件号码、联系电话（仅供入户小组，注意保密）")
    f.add_argument("--force", action="store_true", help="替换已有的文件")
    f.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    _register_options(f)
    f.set_defaults(func=_cmd_fieldlist)

    c = sub.add_parser("check", help="一次核对当年全部输入，列出每一处问题",
                       description="核对农户台账、抽查样本（及其抽样清单）、核查结果、乡镇自评、"
                                   "年度减贫任务和考核参数，每个问题一行：文件、工作表、行、列、值和应为什么。"
                                   "有问题时退出状态为 2，没有问题时为 0。")
    _hidden_debug(c)
    c.add_argument("--year", type=int, required=True, help="考核年度")
    c.add_argument("--data", type=Path, help="数据目录（默认：随包附带的合成数据）")
    c.add_argument("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）")
    c.add_argument("--no-verify", action="store_true", help="不核对抽查样本与抽样清单")
    c.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    c.set_defaults(func=_cmd_check)

    w = sub.add_parser("power", help="模拟比较抽查设计：各镇被判定偏低的把握度与误判率",
                       description="按台账和抽查设计重复模拟抽样、入户结果、估计和判定（第七条（四）），"
                                   "报告每个镇、每项指标在真实比率低于标准 --shortfall 时被判定偏低的"
                                   "概率，以及全部达标时的误判率、区间覆盖率和平均宽度。")
    _hidden_debug(w)
    w.add_argument("--year", type=int, required=True, help="考核年度（台账与考核参数）")
    w.add_argument("--register", type=Path, help="农户台账文件（.csv 或 .xlsx）")
    w.add_argument("--data", type=Path, help="数据目录（默认：随包附带的合成数据）")
    w.add_argument("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）")
    _plan_options(w)
    w.add_argument("--reps", type=int, default=2000, help="重复模拟次数（默认 2000）")
    w.add_argument("--icc", type=_icc_arg, default=0.05, metavar="ICC",
                   help="村内相关系数：一个数（默认 0.05），或按指标给出，如 "
                        "satisfaction_rate=0.1,exit_accuracy=0.02（未列出的指标取 0.05）")
    w.add_argument("--shortfall", type=float, help="偏低镇比标准低多少（默认取考核参数的 power_shortfall）")
    w.add_argument("--compliant", type=float, help="达标镇的真实比率（默认：标准与 1 的中点）")
    w.add_argument("--indicators", help="模拟的指标，逗号分隔（默认四项比率）")
    w.add_argument("--seed", type=int, default=0, help="随机种子（默认 0）")
    w.add_argument("--out", type=Path, help="把结果表写成 CSV（中文表头）")
    w.add_argument("--force", action="store_true", help="替换已有的 CSV")
    w.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    _register_options(w)
    w.set_defaults(func=_cmd_power)

    sp = sub.add_parser("spec", help="为新的年度（或另一个县）写出可编辑的考核参数文件",
                        description="从最新的内置考核参数（或 --from 指定的文件）生成某年度的考核参数 TOML，"
                                    "并列出必须核对的字段（尤其是当年退出收入线）。")
    _hidden_debug(sp)
    sp.add_argument("--year", type=int, required=True, help="考核年度")
    sp.add_argument("--county", help="县（区）名称（写入标题和正文）")
    sp.add_argument("--from", dest="source", type=Path,
                    help="以这个考核参数文件为底本（默认：最新的内置参数）")
    sp.add_argument("--out", type=Path, required=True, help="输出的 TOML 文件")
    sp.add_argument("--force", action="store_true", help="输出文件已存在时覆盖")
    sp.set_defaults(func=_cmd_spec)

    fu = sub.add_parser("followup", help="按事先登记的规则抽取两阶段复核样本",
                        description="核验第一阶段样本与清单，按考核参数重新计算第一阶段检验，"
                                    "找出单侧 P 值落在复核区间的镇 × 指标，"
                                    "在这些镇未入样的村中再抽村入户，写出 "
                                    "数据目录/followup_YYYY/（sample.csv 与 manifest.json）。")
    _hidden_debug(fu)
    fu.add_argument("--year", type=int, required=True, help="考核年度")
    fu.add_argument("--data", type=Path, required=True, help="数据目录（含 sample_YYYY/ 与 results_YYYY）")
    fu.add_argument("--spec", type=Path, help="考核参数 TOML 文件（默认：内置的当年参数）；其 [followup] "
                                              "须与第一阶段清单登记的规则相同")
    fu.add_argument("--seed", type=int, help="随机种子（默认随机生成并记入清单）")
    fu.add_argument("--force", action="store_true", help="允许替换已有的、不同的复核样本")
    fu.add_argument("--encoding", help="CSV 编码（默认自动识别 UTF-8/GBK）")
    fu.set_defaults(func=_cmd_followup)

    s = sub.add_parser("synth", help="生成合成数据目录（模拟数据，仅供演示和测试）")
    _hidden_debug(s)
    s.add_argument("--out", type=Path, required=True, help="输出目录")
    s.add_argument("--seed", type=int, default=20160101)
    s.add_argument("--scale", type=float, default=1.0, help="每村户数的缩放比例")
    s.add_argument("--force", action="store_true", help="输出目录已有数据文件时仍然写入（覆盖同名文件）")
    s.set_defaults(func=_cmd_synth)
    return parser


def _cmd_design(args: argparse.Namespace) -> int:
    from .io.datadir import DataDir
    from .sampling import draw_from_file, new_seed, verify_manifest, write_sample

    if args.verify is not None:
        report = verify_manifest(args.verify, register=args.register)
        print(report)
        return 0
    register = _register_path(args, "design")
    out = args.out
    if out is None:
        base = args.data if args.data is not None else register.parent
        out = DataDir(base).sample_dir(args.year)
    plan = _plan_from_args(args, reserves=args.reserves)
    seed = args.seed if args.seed is not None else new_seed()
    columns = _columns(args)
    result = draw_from_file(register, plan, seed, encoding=args.encoding, sheet=args.sheet,
                            columns=columns)
    from .spec import load_spec

    rule = (load_spec(args.spec, year=args.year).followup if args.spec is not None else None)
    outcome = write_sample(result, out, register, force=args.force, encoding=args.encoding,
                           sheet=args.sheet, columns=columns, followup=rule)
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
    print(f"{args.year} 年考核：{len(assessment.flags)} 项标记，涉及 "
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

    suffix = args.out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise QuchiStatsError(f"--out {args.out}：应为 .xlsx（录入工作簿）或 .csv（名单）文件")
    if suffix == ".xlsx" and args.include_personal_data:
        raise QuchiStatsError("录入工作簿不写个人信息：--include-personal-data 只能用于 .csv 名单")
    root = DataDir(args.data if args.data is not None else data_path())
    if args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    from .sampling.manifest import register_options

    sample = read_table(root.sample_dir(args.year) / "sample.csv", "sample")
    recorded = register_options(root.sample_dir(args.year))  # read the register as design did
    columns = {**(recorded.get("columns") or {}), **(_columns(args) or {})}
    register = read_table(root.register(args.year), "register",
                          encoding=args.encoding or recorded.get("encoding"),
                          sheet=args.sheet if args.sheet is not None else recorded.get("sheet"),
                          columns=columns or None)
    table = field_list(sample, register, include_personal_data=args.include_personal_data)
    if suffix == ".xlsx":
        spec = load_spec(args.spec if args.spec is not None else args.year, year=args.year)
        atomic_write_bytes(args.out, entry_workbook_bytes(sample, args.year,
                                                          answers_by_frame(spec)))
        n_res = int((sample["role"] != "primary").sum())
        print(f"已写出录入工作簿 {args.out}：{sample['town'].nunique()} 个镇（每镇一张表），"
              f"{len(sample)} 户，其中备选户 {n_res} 户（未启用请留空）；不含个人信息。")
        print(f"填好后存为 {root.root / f'results_{args.year}.xlsx'}，再运行 quchi-stats check。")
        return 0
    write_csv(table, args.out, chinese_headers=True, allow_personal=args.include_personal_data)
    extra = "（含个人信息，注意保密）" if args.include_personal_data else "（不含个人信息）"
    print(f"已写出 {args.out}：{len(table)} 户{extra}")
    return 0


def _cmd_power(args: argparse.Namespace) -> int:
    from .datasets import data_path
    from .errors import OutputExistsError
    from .io.readers import read_table
    from .io.writers import atomic_write_bytes, csv_bytes
    from .simulate import DEFAULT_INDICATORS, simulate_design
    from .spec import load_spec

    if args.data is None and args.register is None:
        args.data = data_path()
    register_file = _register_path(args, "power")
    if args.out is not None and args.out.exists() and not args.force:
        raise OutputExistsError(f"{args.out} 已存在；如需替换，请加 --force。")
    plan = _plan_from_args(args)
    spec = load_spec(args.spec if args.spec is not None else args.year, year=args.year)
    register = read_table(register_file, "register", encoding=args.encoding, sheet=args.sheet,
                          columns={**spec.columns, **(_columns(args) or {})} or None)
    names = ([n.strip() for n in args.indicators.split(",") if n.strip()]
             if args.indicators else list(DEFAULT_INDICATORS))
    bar = _ProgressBar("模拟") if sys.stderr.isatty() else None
    result = simulate_design(register, plan, spec=spec, indicators=names,
                             compliant=args.compliant, shortfall=args.shortfall, icc=args.icc,
                             reps=args.reps, seed=args.seed, progress=bar)
    if bar is not None:
        bar.close()
    print(result)
    print(result.to_frame(chinese=True).round(3).to_string(index=False))
    if args.out is not None:
        atomic_write_bytes(args.out, csv_bytes(result.to_frame(chinese=True)))
        print(f"已写出 {args.out}")
    return 0


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
    labels = {r["indicator"]: r["label"] for _, r in out.estimates.iterrows()}
    print(f"复核规则（第一阶段抽样时登记）：{'、'.join(labels.get(i, i) for i in rule.indicators)}；"
          f"第一阶段单侧 P ≤ {rule.alpha_stop:g} 直接判定，{rule.alpha_stop:g} < P ≤ "
          f"{rule.alpha_futility:g} 复核，P > {rule.alpha_futility:g} 不复核；每个被筛出的镇在未入样的村中"
          f"再抽 {rule.villages} 个村，复核最多 {rule.max_extra_households} 户。")
    from .followup import critical_value

    c = critical_value(out.spec_alpha, rule.alpha_stop, rule.alpha_futility, rule.weight_phase1)
    print(f"复核后的判定：Z = {rule.weight_phase1:g}·Φ⁻¹(1 − P1) + {rule.weight_phase2:.4g}·Φ⁻¹(1 − P2) ≥ "
          f"{c:.3f}（P2 只用新抽村的户；单个检验水平 α = {out.spec_alpha:g}，多重比较按考核参数校正）。")
    if out.exhausted:
        print(f"{'、'.join(out.exhausted)}的全部行政村第一阶段都已入样，没有可新抽的村：按第一阶段单独判定，不复核。")
    if out.screened.empty:
        print(f"{args.year} 年没有镇 × 指标落在复核区间，不需要复核，未写出任何文件。")
        return 0
    for r in out.screened.itertuples():
        print(f"  {r.town} {r.label}：第一阶段单侧 P = {r.p1:.3g}，落在复核区间")
    fd = out.draw
    for note in fd.notes:
        print("说明：" + note)
    if not out.written:
        print("没有镇能够复核（见上面的说明），未写出任何文件。")
        return 0
    print(fd)
    for t in fd.towns[fd.towns["followed_up"]].itertuples():
        print(f"  {t.town}：新抽 {t.villages} 个村（未入样的村共 {t.villages_left} 个），入户 "
              f"{t.households} 户（{'、'.join(labels.get(i, i) for i in t.indicators.split(';'))}）")
    if out.unchanged:
        print(f"{out.out_dir / 'sample.csv'} 已存在且与本次抽样完全相同，未改动。")
    else:
        print(f"已写出 {out.out_dir / 'sample.csv'} 和 {out.out_dir / 'manifest.json'}")
    if out.replaced is not None:
        print(f"被替换的复核样本及其清单保留在 {out.replaced}（替换留有记录）")
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
