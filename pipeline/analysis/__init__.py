"""Pure analysis: text -> sentences, jurisdictions, crypto tone, mainland stance, reciprocity evidence."""

from pipeline.analysis.analyzer import Analyzer, ArticleInput

__all__ = ["Analyzer", "ArticleInput"]
