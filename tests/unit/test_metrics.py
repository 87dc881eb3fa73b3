from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.evidence import KINDS
from pipeline.metrics import PipelineMetrics, window_label


def bundle() -> PipelineMetrics:
    return PipelineMetrics.create(CollectorRegistry(), frozenset({"HK", "CN"}), frozenset(KINDS))


def test_bundle_uses_only_its_registry_and_the_pipeline_prefix() -> None:
    first, second = bundle(), bundle()  # a second bundle on a fresh registry does not clash
    first.articles_received.inc()
    text = generate_latest(first.registry).decode()
    assert "pipeline_articles_received_total 1.0" in text
    assert "pipeline_articles_received_total 0.0" in generate_latest(second.registry).decode()
    names = {m.name for m in first.registry.collect()}
    assert all(name.startswith("pipeline_") for name in names)


def test_labels_are_bounded_to_known_codes_and_kinds() -> None:
    metrics = bundle()
    enriched = Analyzer().analyze(ArticleInput("x", "The PBoC banned bitcoin. Singapore's MAS licensed a crypto "
                                                    "exchange.", title="Crypto"))
    metrics.record_enriched(enriched)
    text = generate_latest(metrics.registry).decode()
    assert 'jurisdiction="SG"' not in text and 'jurisdiction="other"' in text
    assert 'pipeline_reciprocity_evidence_total{direction="down",kind="ban"} 1.0' in text


def test_window_labels() -> None:
    assert [window_label(s) for s in (3600, 86400, 900)] == ["1h", "1d", "900s"]
