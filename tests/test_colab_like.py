"""Colab, as it is: a runtime that already holds torch, numpy, matplotlib, ipywidgets 7.7 and
IPython 7.34. Installing the book's package there must add it and nothing else (an upgrade of a
loaded module makes Colab ask for a restart), and chapter 1's portable copy must then run.

The preinstalled packages live in a virtual environment built once per list of versions under
~/.cache/diffusion-hands-on/colab-like/ (minutes, once per machine); each run makes a new, empty environment that sees them the
way Colab's Python sees its dist-packages, on its path but outside its own prefix, and installs
a wheel built from this checkout into it, through the chapter's own setup cell."""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
# Colab's preinstalled versions of what the package and its chapters use (its published list;
# torch 2.13.0 stands in for Colab's CUDA build: the CPU wheel this project's machines hold)
COLAB = {"ipywidgets": "7.7.1", "matplotlib": "3.10.0", "numpy": "2.1.3", "torch": "2.13.0",
         "ipython": "7.34.0", "ipykernel": "6.17.1", "scikit-learn": "1.6.1", "tqdm": "4.67.1"}
INSTALL = '\n    %pip install "git+{REPOSITORY}@v{VERSION}"\n'    # the setup cell's install line

pytestmark = pytest.mark.slow


def _run(*args, **kwargs) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _installed(venv: Path) -> dict[str, str]:
    listed = json.loads(_run(_python(venv), "-m", "pip", "list", "--format=json"))
    return {_canonical(p["name"]): p["version"] for p in listed}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _package_version() -> str:
    init = (ROOT / "diffusion_lite" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', init, re.M).group(1)


def _preinstalled() -> Path:
    """The environment holding Colab's versions, built once for this list and Python and kept
    in the user's cache folder (like pip's cache: it holds Colab's packages, nothing of this
    checkout; every run checks its versions and starts a fresh environment on top of it)."""
    key = hashlib.sha256(json.dumps([sys.version, COLAB], sort_keys=True).encode()).hexdigest()[:12]
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diffusion-hands-on"
    home = home / "colab-like"
    home.mkdir(parents=True, exist_ok=True)
    base = home / f"preinstalled-{key}"
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / ".complete").exists():
            shutil.rmtree(base, ignore_errors=True)
            _run(sys.executable, "-m", "venv", base)
            _run(_python(base), "-m", "pip", "install", "--no-compile", "-q",
                 *[f"{name}=={version}" for name, version in COLAB.items()])
            (base / ".complete").touch()
    found = _installed(base)
    wrong = {n: found.get(n) for n, v in COLAB.items() if found.get(n, "").split("+")[0] != v}
    assert not wrong, f"{base} holds {wrong}, expected {COLAB}: delete it to rebuild"
    return base


def _fresh_runtime(base: Path, where: Path) -> Path:
    """A new environment whose Python sees ``base``'s packages as installed, outside its prefix."""
    venv = where / "runtime"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)     # pip too comes from ``base``
    purelib = Path(_run(_python(venv), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    base_lib = _run(_python(base), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    (purelib / "colab_preinstalled.pth").write_text(base_lib + "\n")
    return venv


def _wheel(where: Path) -> Path:
    """A wheel of this checkout's package, built from a copy so that the checkout stays clean."""
    source = where / "source"
    shutil.copytree(ROOT / "diffusion_lite", source / "diffusion_lite",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", where / "dist", source)
    (wheel,) = (where / "dist").glob("diffusion_lite-*.whl")
    return wheel


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    where = tmp_path_factory.mktemp("colab")
    runtime = _fresh_runtime(_preinstalled(), where)
    return runtime, _wheel(where), where


def test_installing_the_package_adds_it_and_upgrades_nothing(colab):
    runtime, wheel, where = colab
    before = _installed(runtime)
    assert "diffusion-lite" not in before, "the runtime already holds the package"
    report = where / "report.json"
    _run(_python(runtime), "-m", "pip", "install", "--dry-run", "--report", report, wheel)
    planned = {_canonical(i["metadata"]["name"]): i["metadata"]["version"]
               for i in json.loads(report.read_text())["install"]}
    touched = {n: f"{before[n]} -> {v}" for n, v in planned.items() if n in before}
    assert not touched, f"installing the package would replace what Colab has loaded: {touched}"
    assert planned.get("diffusion-lite") == _package_version(), planned


def test_widgets_the_chapters_use_exist_in_ipywidgets_7(colab):
    runtime, _, _ = colab
    names = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for group in re.findall(r"^from ipywidgets import (.+)$", cell.source, re.M):
                names |= {n.strip(" ()") for n in group.split(",")}
    assert names, "no chapter imports from ipywidgets"
    missing = _run(_python(runtime), "-c", "import ipywidgets, sys; print(ipywidgets.__version__, "
                   "[n for n in sys.argv[1:] if not hasattr(ipywidgets, n)])", *sorted(names))
    assert missing.strip() == f"{COLAB['ipywidgets']} []", f"ipywidgets version, names missing: {missing}"


def test_chapter_one_installs_the_package_and_runs(colab, monkeypatch):
    runtime, wheel, where = colab
    monkeypatch.delenv("PYTHONPATH", raising=False)     # the kernel must find only what it installed
    nb = nbformat.read(ROOT / "colab" / "01_forward_process.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.source.count(INSTALL) == 1, f"the setup cell's install line is not {INSTALL!r}"
    setup.source = setup.source.replace(INSTALL, f'\n    %pip install "{wheel}"\n')
    nb.cells.append(nbformat.v4.new_code_cell(
        "import importlib.metadata as _md, json as _json, sys as _sys\n"
        "print(_json.dumps({'version': dl.__version__, 'file': dl.__file__, 'prefix': _sys.prefix,\n"
        f"                   'versions': {{n: _md.version(n) for n in {sorted(COLAB)!r}}}}}))"))

    kernels = where / "kernels"
    (kernels / "colab-like").mkdir(parents=True)
    (kernels / "colab-like" / "kernel.json").write_text(json.dumps({
        "argv": [str(_python(runtime)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    km = KernelManager(kernel_name="colab-like",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    try:
        NotebookClient(nb, km=km, timeout=600,
                       resources={"metadata": {"path": str(where)}}).execute()
    finally:                          # a client given a kernel manager leaves its kernel running
        if km.has_kernel:
            km.shutdown_kernel(now=True)

    installed = _installed(runtime)
    assert installed.get("diffusion-lite") == _package_version(), "the setup cell did not install it"
    report = json.loads(nb.cells[-1].outputs[0]["text"])
    assert report["version"] == _package_version()
    assert Path(report["file"]).is_relative_to(runtime), f"imported from {report['file']}, not the install"
    changed = {n: v for n, v in report["versions"].items() if v.split("+")[0] != COLAB[n]}
    assert not changed, f"running the chapter changed Colab's packages: {changed}"
