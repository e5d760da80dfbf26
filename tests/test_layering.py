"""The README's "Development" promises about the package's shape: imports go one way, the
trainer's config loads nothing of the pipeline, and the tables (stages, input formats) are
what the commands read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from llm_pretrain.cli import data
from llm_pretrain.pipeline.extract.formats import FORMATS
from llm_pretrain.pipeline.extract.inputs import kind_of
from llm_pretrain.stages import STAGE_FOLDERS, STAGES

PACKAGE = Path(__file__).resolve().parent.parent / "llm_pretrain"


def _node(module: str) -> str:
    """A module's package (`llm_pretrain.pipeline.dedup`); a module at the root is its own."""
    parts = module.split(".")
    if (PACKAGE.parent / Path(*parts)).is_dir() or len(parts) == 2:
        return module
    return ".".join(parts[:-1])


def _imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at the top, in functions, for type checks)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = {name for name in names if name.startswith("llm_pretrain.")}
    return found


def test_no_two_packages_import_each_other():
    edges: dict[str, set[str]] = {}
    for module, names in _imports().items():
        source = module if module.endswith("__main__") else _node(module)
        edges.setdefault(source, set()).update(_node(n) for n in names if _node(n) != source)
    cycles = sorted((a, b) for a in edges for b in edges[a] if a < b and a in edges.get(b, ()))
    assert cycles == []


def test_the_bottom_layer_imports_nothing_above_it():
    imports = _imports()
    assert imports["llm_pretrain.errors"] == set()
    assert imports["llm_pretrain.storage"] <= {"llm_pretrain.errors"}
    assert imports["llm_pretrain.configbase"] <= {"llm_pretrain.errors"}
    stages = [
        m for m in imports if m.startswith(("llm_pretrain.pipeline", "llm_pretrain.tokenizer"))
    ]
    assert not [m for m in stages if "llm_pretrain.config" in imports[m]]  # sections only


def test_the_trainer_config_loads_nothing_of_the_pipeline():
    code = (
        "import sys, llm_pretrain.train.config; "
        "print([m for m in sys.modules if m.startswith('llm_pretrain.pipeline')])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_format_table_drives_discovery_and_help():
    help_text = " ".join(CliRunner().invoke(data, ["extract", "--help"]).output.split())
    for format in FORMATS.values():
        for suffix in format.suffixes:
            assert kind_of(f"crawl/page{suffix.upper()}") == format.name
            assert suffix in help_text


def test_the_stage_table_names_the_chain_folders():
    assert list(STAGE_FOLDERS) == [stage.name for stage in STAGES]
    assert data.chain_folders == STAGE_FOLDERS
