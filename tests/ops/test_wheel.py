"""The production wheel: built offline from this tree, listed, installed into a bare venv.

The sandboxes (connectors/sandbox/, look-alikes of the vendors for the demo and the tests)
must not ship in it, every other module must, and a config that needs the sandboxes must
fail there with one clear line from `check-config` and `run`, not a traceback.  The venv
borrows the development venv's third-party packages through a path entry, which Python
adds to sys.path without running that directory's .pth files, so the editable install of
this tree (which would find connectors/sandbox/ in the source) stays out of it.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What the build reads: the project file, the files it names, the packages it finds.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "daemon", "connectors", "rules",
                "vocab")
PACKAGES = ("daemon", "connectors", "rules", "vocab")
SANDBOX = "connectors/sandbox/"


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                          **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by pip from a copy of the tree (the build writes beside its input)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    result = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                   "--no-index", "--quiet", "-w", str(work / "dist"), str(source)])
    assert result.returncode == 0, result.stderr[-4000:]
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed (no sandboxes); its `bin` directory."""
    venv = tmp_path_factory.mktemp("venv")
    result = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert result.returncode == 0, result.stderr
    result = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                   "install", "--no-deps", "--no-index", "--quiet", str(wheel)])
    assert result.returncode == 0, result.stderr[-4000:]
    (site_packages,) = venv.glob("lib/python*/site-packages")
    # The development venv's dependencies, as a plain path entry (see the module docstring).
    (site_packages / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"


def _modules_in_tree() -> set[str]:
    return {path.relative_to(REPO).as_posix() for package in PACKAGES
            for path in (REPO / package).rglob("*.py")
            if "__pycache__" not in path.parts}


def test_the_wheel_holds_every_module_but_the_sandboxes(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in names if name.startswith(SANDBOX)]
    expected = {name for name in _modules_in_tree() if not name.startswith(SANDBOX)}
    assert expected - names == set()
    assert "connectors/demo.py" in names  # sandbox:// URLs are still understood
    assert any(name.startswith("daemon/dashboard/templates/") for name in names)  # data too
    assert any(name.startswith(SANDBOX) for name in _modules_in_tree())  # the tree has them


def test_the_installed_wheel_runs_without_the_sandboxes(installed: Path,
                                                        tmp_path: Path) -> None:
    probe = textwrap.dedent("""\
        import importlib.util, connectors, daemon.cli
        from connectors.demo import SandboxesNotInstalled, start_demo
        print(connectors.__file__)
        print(importlib.util.find_spec("connectors.sandbox"))
        try:
            start_demo({"zendesk": {}})
        except SandboxesNotInstalled as exc:
            print("refused:", exc)
    """)
    result = _run([str(installed / "python"), "-c", probe], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    where, spec, refused = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed.parent)
    assert spec == "None"
    assert refused.startswith("refused: the config uses the sandboxes")

    config = tmp_path / "production.yaml"
    config.write_text(textwrap.dedent("""\
        sources:
          - name: zd
            kind: zendesk
            base_url: https://acme.zendesk.com
            email: agent@example.com
            api_token: not-a-real-token
    """))
    result = _run([str(installed / "helpdesk-sentinel"), "check-config", "--config",
                   str(config)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "OK — 1 source(s)" in result.stdout


HALF_SANDBOX = """\
sources:
  - name: zd
    kind: zendesk
    email: agent@example.com
    api_token: not-a-real-token
    base_url: sandbox://zendesk
"""


@pytest.mark.parametrize(("command", "status"), [(["check-config"], 1), (["run", "--once"], 2)])
@pytest.mark.parametrize(("config_name", "line", "key"), [
    ("config.yaml", None, "sandbox"),  # the shipped demo config: a `sandbox:` section
    ("half.yaml", 6, "sources[0].base_url"),  # a sandbox:// URL without the section
])
def test_a_config_needing_the_sandboxes_fails_in_one_line(
        installed: Path, tmp_path: Path, command: list[str], status: int, config_name: str,
        line: int | None, key: str) -> None:
    config = tmp_path / config_name
    if config_name == "config.yaml":
        shutil.copy2(REPO / "config.yaml", config)
        line = 1 + next(number for number, text in
                        enumerate(config.read_text().splitlines()) if text == "sandbox:")
    else:
        config.write_text(HALF_SANDBOX)
    result = _run([str(installed / "helpdesk-sentinel"), *command, "--config", str(config)],
                  cwd=tmp_path)
    assert result.returncode == status
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{config}:{line}: {key}: the config uses the sandboxes (a `sandbox:` section, "
        "sandbox:// URLs), which are not installed: they come with a source checkout "
        "(`make install`), not with the package; for production remove `sandbox:` and give "
        "every URL its real service (docs/connect.md)"]
    assert not (tmp_path / "var").exists()  # refused before anything was started or written
