"""The README's two commands are what CI runs; environment.yml and pyproject.toml agree."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_gives_exactly_two_commands():
    commands = quick_start_commands()
    assert commands == ["./run.sh course", "./run.sh test"]


def test_ci_runs_the_readmes_test_command_itself():
    test_command = quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, ".ci/run must run the README's test command, so the README is what CI tests"


def test_setup_script_pins_torch_before_the_project():
    script = (ROOT / "run.sh").read_text()
    assert script.index('install "${index[@]}" "torch==$TORCH_VERSION"') < script.index('install -q -e ".[test]"')
    assert "TORCH_VERSION=2.13.0" in script
    assert "GPTLAB_TORCH_INDEX" in script and "GPTLAB_TORCH_INDEX" in (ROOT / "README.md").read_text()
    # the test command runs everything CI must: drift check, unit tests, both notebook trees under nbval
    assert "gptlab\" lessons --check" in script
    assert "--nbval-lax" in script and "tests lessons solutions" in script


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = (ROOT / "environment.yml").read_text()
    listed = {_name(m) for m in re.findall(r"^\s*- ([A-Za-z0-9_.\-]+[^\n]*)$", env, flags=re.M)}
    listed -= {"python", "pip", "pip:", "conda-forge", "-e"}
    assert listed == wanted, f"only in environment.yml: {sorted(listed - wanted)}; only in pyproject: {sorted(wanted - listed)}"


def test_torch_is_pinned_the_same_everywhere():
    env = (ROOT / "environment.yml").read_text()
    assert "torch==2.13.0" in env
    assert "TORCH_VERSION=2.13.0" in (ROOT / "run.sh").read_text()


def test_python_floor_is_311():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "python>=3.11" in (ROOT / "environment.yml").read_text()
    assert project["scripts"]["gptlab"] == "gptlab.cli:main"
