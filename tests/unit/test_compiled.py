"""The mypyc-compiled analysis (setup.py): never older than its sources, and built wherever CI runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import pipeline
from bench.corpus import make_corpus
from pipeline.analysis import compiled
from pipeline.io import sample_corpus_path

PACKAGE = Path(pipeline.__file__).parent


def compiled_modules() -> list[tuple[Path, Path]]:
    """(extension, the source it was compiled from) for every compiled module of the package."""
    extensions = {path for suffix in EXTENSION_SUFFIXES for path in PACKAGE.rglob(f"*{suffix}")}
    return [(path, path.with_name(path.name.split(".")[0] + ".py")) for path in sorted(extensions)]


def test_no_compiled_module_is_older_than_its_source() -> None:
    # Python imports an extension before the .py beside it: a stale one would run the old code.
    stale = [str(source.relative_to(PACKAGE.parent)) for extension, source in compiled_modules()
             if source.exists() and source.stat().st_mtime > extension.stat().st_mtime]
    assert not stale, f"edited since they were compiled: {stale}; run `make build`"


@pytest.mark.skipif(os.environ.get("CI") != "true",
                    reason="checked under CI=true only: elsewhere a machine without a C compiler may run plain Python")
def test_ci_runs_the_compiled_analysis() -> None:
    assert compiled(), "setup.py did not compile the analysis: see the build output of `make build`"
    assert {source.name for _, source in compiled_modules()} == {
        path.name for path in (PACKAGE / "analysis").glob("*.py") if path.name != "__init__.py"}


def run_python(args: list[str], pythonpath: Path | None, cwd: Path) -> str:
    """``python args`` in ``cwd`` (``-m`` and ``-c`` import from there first), ``pythonpath`` ahead of the install."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=120).stdout


@pytest.mark.skipif(not compiled(), reason="the analysis is not compiled here")
def test_compiled_analysis_writes_the_same_records_as_plain_python(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    generated = "".join(json.dumps(article) + "\n" for article in make_corpus(300))
    corpus.write_text(sample_corpus_path().read_text(encoding="utf-8") + generated, encoding="utf-8")
    plain = tmp_path / "plain"
    shutil.copytree(PACKAGE, plain / "pipeline", ignore=shutil.ignore_patterns("*.so", "__pycache__"))

    probe = ["-c", "from pipeline.analysis import compiled; print(compiled())"]
    assert run_python(probe, None, tmp_path).strip() == "True"
    assert run_python(probe, plain, tmp_path).strip() == "False"  # the copy without extensions: plain Python

    analyze = ["-m", "pipeline.cli", "analyze", str(corpus)]
    compiled_records, plain_records = run_python(analyze, None, tmp_path), run_python(analyze, plain, tmp_path)
    assert len(plain_records.splitlines()) == 340
    assert compiled_records == plain_records
