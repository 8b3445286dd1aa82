"""The repository contract: dependencies agree, the README's commands are what CI runs, ruff is clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject():
    project = _pyproject()["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in ("lab", "notebook", "dev"):
        wanted |= {_norm(r) for r in project["optional-dependencies"][extra]}
    listed = set()
    in_pip = False
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        m = re.match(r"^(\s*)-\s*(.+)$", stripped)
        if not m:
            continue
        indent, item = len(m.group(1)), m.group(2).strip()
        if item == "pip:":
            in_pip = True
            continue
        if in_pip and indent > 2:
            continue
        in_pip = False
        name = _norm(item)
        if re.fullmatch(r"python(?:[<>=!~].*)?", name) or name == "pip":  # not python-calamine
            continue
        listed.add(name)
    assert listed == wanted


def test_python_floor_and_console_script():
    data = _pyproject()
    assert data["project"]["requires-python"] == ">=3.11"
    assert data["project"]["scripts"]["quchi-stats"] == "quchi_stats.cli:main"
    runtime = {re.split(r"[<>=]", r)[0] for r in data["project"]["dependencies"]}
    assert runtime == {"numpy", "scipy", "pandas", "matplotlib", "openpyxl", "python-calamine",
                       "python-docx", "jinja2"}


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(python3 -m venv .+?)\n```", text)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    commands = list(dict.fromkeys(_readme_commands()))
    assert len(commands) == 2, commands
    main_job, test_cmd = commands
    assert "quchi-stats report --year 2018" in main_job
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    body = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    # the README test command is the last step, run as written; before it only Chromium's install
    assert body[-1] == test_cmd
    assert all("pytest" not in ln for ln in body[:-1])


def test_tests_mirror_modules():
    src = ROOT / "src" / "quchi_stats"
    missing = []
    for module in src.rglob("*.py"):
        rel = module.relative_to(src)
        if module.name == "__init__.py" or module.name.startswith("_"):
            continue
        test = ROOT / "tests" / rel.parent / f"test_{module.name}"
        if not test.is_file():
            missing.append(str(rel))
    assert not missing, f"modules without a test file: {missing}"


@pytest.mark.skipif(shutil.which("ruff") is None and not Path(sys.prefix, "bin", "ruff").exists(),
                    reason="ruff is in the dev extra")
def test_ruff_is_clean():
    exe = shutil.which("ruff") or str(Path(sys.prefix, "bin", "ruff"))
    res = subprocess.run([exe, "check", "src", "tests"], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
