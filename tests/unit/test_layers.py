"""The package's layering (docs/architecture.md): no import cycle between modules, lazy
imports included; the core (everything but ``cli/`` and ``napari/``) never imports napari,
Qt, vispy or pyplot, nor a layer above it; the command line starts without torch or napari."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import napari_vqmap

ROOT = Path(napari_vqmap.__file__).resolve().parent
PKG = "napari_vqmap"
GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy", "magicgui")
PYPLOT = "matplotlib.pyplot"


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _in(name: str, package: str) -> bool:
    """Whether module ``name`` is ``package`` or inside it."""
    return name == package or name.startswith(package + ".")


def _is_core(name: str) -> bool:
    upper = _in(name, f"{PKG}.napari") or _in(name, f"{PKG}.cli")
    return not upper and not name.endswith("__main__")


CORE = sorted(m for m in MODULES if _is_core(m) and m != f"{PKG}.train")


def _imports(name: str) -> set[str]:
    """Every dotted name ``name``'s source imports, at any depth (functions included)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _project_edges() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's ``__init__`` importing its
    own submodules is not counted: it only re-exports them)."""
    edges = {}
    for name, path in MODULES.items():
        targets = set()
        for target in _imports(name):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            own = path.name == "__init__.py" and target.startswith(name + ".")
            if target and target != name and not own:
                targets.add(target)
        edges[name] = targets
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_project_edges()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", CORE)
def test_core_source_imports_no_gui_and_no_upper_layer(name: str) -> None:
    """Read from the source, lazy imports included."""
    bad = []
    for target in _imports(name):
        top = target.split(".")[0]
        if top in GUI or target == PYPLOT or target.startswith(PYPLOT + "."):
            bad.append(target)
        if _in(target, f"{PKG}.napari") or _in(target, f"{PKG}.cli"):
            bad.append(target)
    assert not bad, f"{name} imports {sorted(set(bad))}"


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_importing_every_core_and_cli_module_loads_no_gui() -> None:
    """Each core and ``cli`` module imported in turn, in one fresh interpreter: after each,
    nothing of napari, Qt, vispy or pyplot is in ``sys.modules``."""
    names = CORE + sorted(m for m in MODULES if _in(m, f"{PKG}.cli") and "__main__" not in m)
    code = f"""
import importlib, sys
bad = {GUI!r}
for name in {names!r}:
    importlib.import_module(name)
    loaded = [m for m in sys.modules if m.split(".")[0] in bad or m == {PYPLOT!r}]
    if loaded:
        print(name, sorted(loaded)[:5])
        break
"""
    assert _run(code) == ""


def test_version_imports_no_data_libraries() -> None:
    """``napari-vqmap --version`` builds the whole parser and nothing more."""
    code = """
import contextlib, io, sys
from napari_vqmap.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--version"])
    except SystemExit:
        pass
print(sorted(m for m in ("numpy", "pandas", "xarray", "torch", "napari") if m in sys.modules))
"""
    assert _run(code) == "[]"


@pytest.mark.parametrize("argv", [["--version"], ["info", "FILE"], ["encode", "--help"]])
def test_cli_starts_without_torch_or_napari(argv: list[str], data_dir: Path) -> None:
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    argv = [str(path) if a == "FILE" else a for a in argv] + (
        ["--skeleton", "subtle"] if "FILE" in argv else []
    )
    code = f"""
import contextlib, io, sys
from napari_vqmap.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        status = main({argv!r})
    except SystemExit as exit:
        status = exit.code
assert status in (0, None), status
print(sorted(m for m in ("torch", "napari", "qtpy") if m in sys.modules))
"""
    assert _run(code) == "[]"


def test_installed_encode_command_skips_dask(data_dir: Path, tmp_path: Path) -> None:
    """The installed command marks dask absent for ``encode`` (xarray would import it, and
    numba with it, to look for dask arrays) and still writes every output."""
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    argv = ["napari-vqmap", "encode", str(path), "--skeleton", "subtle", "--fps", "20",
            "--out", str(tmp_path)]  # fmt: skip
    code = f"""
import contextlib, io, sys
sys.argv = {argv!r}
from napari_vqmap.cli import run
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        run()
    except SystemExit as exit:
        assert exit.code in (0, None), exit.code
print(sorted(m for m in sys.modules if m.startswith(("dask.", "numba")) and sys.modules[m]))
"""
    assert _run(code) == "[]"
    assert {p.name for p in tmp_path.iterdir()} == {
        f"young_8301_{end}" for end in ("motifs.csv", "bouts.csv", "motifs.nc", "encode.json")
    }


def test_cli_encode_defaults_are_the_library_s() -> None:
    from napari_vqmap import demo, encode
    from napari_vqmap.analysis import stats
    from napari_vqmap.cli import analyze as analyze_command
    from napari_vqmap.cli import demo as demo_command
    from napari_vqmap.cli import encode as encode_command

    ours = (encode_command.BATCH_BLOCKS, encode_command.SPAN, encode_command.CHUNK_FRAMES)
    assert ours == (encode.BATCH_BLOCKS, encode.SPAN, encode.CHUNK_FRAMES)
    assert demo_command.DEFAULT_OUT == demo.DEFAULT_OUT
    assert analyze_command.MIN_GROUP_FILES == stats.MIN_GROUP_FILES


def test_old_train_module_names_still_work_with_a_warning() -> None:
    from napari_vqmap import training
    from napari_vqmap.io import files

    with pytest.warns(DeprecationWarning, match="napari_vqmap.training.loop.train"):
        from napari_vqmap.train import train
    assert train is training.train
    with pytest.warns(DeprecationWarning, match="io.files.file_sha256"):
        from napari_vqmap.train import file_sha256
    assert file_sha256 is files.file_sha256
    with warnings.catch_warnings(), pytest.raises(ImportError):
        warnings.simplefilter("error")
        from napari_vqmap.train import no_such_name  # noqa: F401


def test_python_m_train_still_runs() -> None:
    for module in ("napari_vqmap.train", "napari_vqmap.training"):
        proc = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "--resume" in proc.stdout


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("napari_vqmap.evaluate", "scores", "napari_vqmap.analysis.metrics"),
        ("napari_vqmap.figures", "plot_usage", "napari_vqmap.analysis.figures"),
        ("napari_vqmap.analyze", "analyze", "napari_vqmap.analysis.report"),
        ("napari_vqmap.motif_video", "write_motif_video", "napari_vqmap.analysis.motif_video"),
        ("napari_vqmap.train", "run_train", "napari_vqmap.cli.train"),
    ],
)
def test_moved_modules_keep_their_names_with_a_warning(old: str, name: str, new: str) -> None:
    import importlib

    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(importlib.import_module(old), name)
    renamed = {"run_train": "run"}.get(name, name)
    assert value is getattr(importlib.import_module(new), renamed)
