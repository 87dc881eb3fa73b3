"""Pure analysis: text -> sentences, jurisdictions, crypto tone, mainland stance, reciprocity evidence."""

from importlib.machinery import EXTENSION_SUFFIXES

from pipeline.analysis import analyzer as _analyzer
from pipeline.analysis.analyzer import Analyzer, ArticleInput

__all__ = ["Analyzer", "ArticleInput", "build", "compiled"]


def compiled() -> bool:
    """Whether the analysis runs as the mypyc-compiled extension (setup.py) rather than as plain Python."""
    return (_analyzer.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))


def build() -> str:
    """How the analysis runs, for logs and the benchmark's report."""
    return "compiled with mypyc" if compiled() else "plain Python (not compiled: see setup.py)"
