"""Every Prometheus metric of the pipeline, in one bundle created against an injected registry.

Counters and histograms aggregate correctly across workers and restarts (PromQL ``sum(rate(...))``);
the only gauge is the index of the last window this worker closed, set for each window size only by the
owner of that size's window shard.
Label values are bounded: reason codes, evidence kinds and jurisdiction codes from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OTHER = "other"


@dataclass(frozen=True)
class PipelineMetrics:
    registry: CollectorRegistry
    articles_received: Counter
    articles_valid: Counter
    articles_duplicate: Counter
    articles_dead_lettered: Counter
    jurisdiction_mentions: Counter
    evidence: Counter
    processing_seconds: Histogram
    crypto_tone_sum: Counter
    crypto_tone_articles: Counter
    windows_emitted: Counter
    window_articles: Counter
    window_duplicates: Counter
    late_articles: Counter
    messages_sent: Counter
    send_failures: Counter
    input_rereads: Counter
    stale_records: Counter
    reciprocity_index: Gauge
    known_codes: frozenset[str]
    known_kinds: frozenset[str]
    # (metric, label values) -> its child: per-article counts skip labels()'s lock and checks (bounded labels)
    _children: dict[tuple[Counter, tuple[str, ...]], Counter] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(cls, registry: CollectorRegistry, jurisdiction_codes: frozenset[str],
               evidence_kinds: frozenset[str]) -> PipelineMetrics:
        p = "pipeline_"
        return cls(
            registry=registry,
            articles_received=Counter(f"{p}articles_received", "Raw messages read from articles.raw.v1",
                                      registry=registry),
            articles_valid=Counter(f"{p}articles_valid", "Raw articles that passed validation",
                                   registry=registry),
            articles_duplicate=Counter(f"{p}articles_duplicate",
                                       "Valid articles dropped as re-sent duplicates (same id and content)",
                                       registry=registry),
            articles_dead_lettered=Counter(f"{p}articles_dead_lettered", "Messages sent to articles.dlq.v1",
                                           ["reason"], registry=registry),
            jurisdiction_mentions=Counter(f"{p}jurisdiction_mentions",
                                          "Enriched articles mentioning a jurisdiction", ["jurisdiction"],
                                          registry=registry),
            evidence=Counter(f"{p}reciprocity_evidence", "Reciprocity evidence items found",
                             ["kind", "direction"], registry=registry),
            processing_seconds=Histogram(f"{p}processing_seconds",
                                         "Time from taking a raw article (with its batch) to its outputs acknowledged",
                                         buckets=LATENCY_BUCKETS, registry=registry),
            # Tone can be negative and counters only grow, so the sum is split by polarity:
            # mean tone = (positive - negative) / articles.
            crypto_tone_sum=Counter(f"{p}crypto_tone_sum",
                                    "Sum of absolute per-article crypto tone toward a jurisdiction",
                                    ["jurisdiction", "polarity"], registry=registry),
            crypto_tone_articles=Counter(f"{p}crypto_tone_articles",
                                         "Articles with a crypto tone toward a jurisdiction",
                                         ["jurisdiction"], registry=registry),
            windows_emitted=Counter(f"{p}windows_emitted", "signals.reciprocity.v1 records sent",
                                    ["window"], registry=registry),
            window_articles=Counter(f"{p}window_articles", "Articles counted into windows", ["window"],
                                    registry=registry),
            window_duplicates=Counter(f"{p}window_duplicates",
                                      "Articles a window had already counted (redelivery or re-send)",
                                      ["window"], registry=registry),
            late_articles=Counter(f"{p}late_articles",
                                  "Articles that arrived after their window closed (window re-emitted)",
                                  ["window"], registry=registry),
            messages_sent=Counter(f"{p}messages_sent", "Messages sent to an output topic, acknowledged by the broker "
                                  "(under exactly_once, in their input's transaction)",
                                  ["topic"], registry=registry),
            send_failures=Counter(f"{p}send_failures", "Failed sends: to an output topic (retried until "
                                  "acknowledged) or of a seen-table changelog record (not sent again)",
                                  ["topic"], registry=registry),
            input_rereads=Counter(f"{p}input_rereads", "Times skipped input records were read again",
                                  ["topic"], registry=registry),
            stale_records=Counter(f"{p}input_stale_records",
                                  "Records fetched before their partition was sought again: dropped unread, "
                                  "read again from the new position", registry=registry),
            reciprocity_index=Gauge(f"{p}reciprocity_index",
                                    "Index of the last window this worker closed (only the owner sets it)",
                                    ["window"], registry=registry),
            known_codes=jurisdiction_codes,
            known_kinds=evidence_kinds,
        )

    def code(self, code: str) -> str:
        return code if code in self.known_codes else OTHER

    def kind(self, kind: str) -> str:
        return kind if kind in self.known_kinds else OTHER

    def _child(self, metric: Counter, *labels: str) -> Counter:
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def record_enriched(self, enriched: dict[str, object]) -> None:
        for j in enriched["jurisdictions"]:  # type: ignore[attr-defined]
            self._child(self.jurisdiction_mentions, self.code(j["code"])).inc()
        for code, tone in enriched["by_jurisdiction"].items():  # type: ignore[attr-defined]
            label = self.code(code)
            value = float(tone["sentiment"])
            self._child(self.crypto_tone_articles, label).inc()
            self._child(self.crypto_tone_sum, label, "positive" if value >= 0 else "negative").inc(abs(value))
        for item in enriched["reciprocity"]["evidence"]:  # type: ignore[index]
            self._child(self.evidence, self.kind(item["kind"]), "up" if item["polarity"] > 0 else "down").inc()


def window_label(size: int) -> str:
    """Bounded label for a window size: '1h', '1d', else seconds."""
    if size % 86400 == 0:
        return f"{size // 86400}d"
    if size % 3600 == 0:
        return f"{size // 3600}h"
    return f"{size}s"
