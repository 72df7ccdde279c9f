"""Loading a script of ``tools/`` or ``benchmarks/`` (not a package) as a module in a test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """Import the file ``path`` as module ``name`` (default: its stem), registered in
    ``sys.modules`` (dataclasses look their module up while being defined)."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
