"""Compiles the analysis package with mypyc; everything else about the package is in pyproject.toml.

The analyzer is most of a worker's CPU. Compiled, the same typed code runs 1.5-1.9x faster offline and the
worker drains about a fifth faster (docs/performance.md). The extensions are optional: where they cannot be
built (no C compiler), setuptools says so and installs the package as plain Python, which behaves the same.
The worker logs which one runs when it starts.

Editable installs and ``make build`` put the compiled modules beside the sources (``pipeline/analysis/*.so``);
a module compiled from an older source would shadow the edited ``.py``, so ``make`` rebuilds them whenever a
source changes and a unit test fails when one is stale.
"""

from __future__ import annotations

from pathlib import Path

from mypyc.build import mypycify
from setuptools import Extension, setup

# Pure, typed, no Faust: the whole analysis package except its re-exporting __init__.
COMPILED = sorted(str(path) for path in Path("pipeline/analysis").glob("*.py") if path.name != "__init__.py")


def _extensions() -> list[Extension]:
    # pip builds in an isolated environment without the runtime dependencies: their types are then Any,
    # which compiles to the same calls (both are extension modules) without a type check on what they return.
    extensions = mypycify(["--ignore-missing-imports", *COMPILED], opt_level="3", group_name="pipeline_analysis")
    for extension in extensions:
        extension.optional = True  # no compiler: a warning and the plain Python package, not a failed install
    return extensions


setup(ext_modules=_extensions())
