"""Generate the Grafana dashboards in deploy/grafana/dashboards/ (committed; output is deterministic).

    python deploy/grafana/generate.py           # rewrite the JSON files
    python deploy/grafana/generate.py --check   # exit 1 if a committed file differs from what this makes

Standard library only. Panels query the Prometheus datasource provisioned with uid ``prometheus``; the
``pipeline:*`` series come from deploy/prometheus/rules/recording.yml.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
Json = dict[str, Any]

RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"
INDEX_STEPS = [(None, RED), (-0.3, ORANGE), (0.3, GREEN)]


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False) -> Json:
    out: Json = {"refId": ref, "datasource": DATASOURCE, "editorMode": "code", "expr": expr,
                 "legendFormat": legend or "__auto", "range": not instant, "instant": instant}
    if table:
        out["format"] = "table"
    return out


def targets(*queries: tuple[str, str], instant: bool = False) -> list[Json]:
    return [target(expr, legend, chr(ord("A") + i), instant) for i, (expr, legend) in enumerate(queries)]


def thresholds(steps: list[tuple[float | None, str]]) -> Json:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def panel(kind: str, title: str, grid: tuple[int, int, int, int], queries: list[Json], description: str = "",
          unit: str = "short", decimals: int | None = None, minmax: tuple[float, float] | None = None,
          steps: list[tuple[float | None, str]] | None = None, custom: Json | None = None,
          options: Json | None = None) -> Json:
    x, y, w, h = grid
    defaults: Json = {"unit": unit, "color": {"mode": "thresholds" if steps else "palette-classic"},
                      "thresholds": thresholds(steps or [(None, GREEN)])}
    if decimals is not None:
        defaults["decimals"] = decimals
    if minmax is not None:
        defaults["min"], defaults["max"] = minmax
    if custom is not None:
        defaults["custom"] = custom
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {}, "targets": queries}


def timeseries(title: str, grid: tuple[int, int, int, int], queries: list[Json], description: str = "",
               unit: str = "short", bars: bool = False, stack: bool = False, **kwargs: Any) -> Json:
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1, "fillOpacity": 60 if bars else 10,
              "showPoints": "never", "spanNulls": True,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, grid, queries, description, unit, custom=custom, options=options, **kwargs)


def stat(title: str, grid: tuple[int, int, int, int], queries: list[Json], description: str = "",
         unit: str = "short", **kwargs: Any) -> Json:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
               "textMode": "value_and_name"}
    return panel("stat", title, grid, queries, description, unit, options=options, **kwargs)


def bargauge(title: str, grid: tuple[int, int, int, int], queries: list[Json], description: str = "",
             unit: str = "short", **kwargs: Any) -> Json:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}
    return panel("bargauge", title, grid, queries, description, unit, options=options, **kwargs)


def text(title: str, grid: tuple[int, int, int, int], content: str) -> Json:
    x, y, w, h = grid
    return {"type": "text", "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "options": {"mode": "markdown", "content": content}}


def custom_variable(name: str, label: str, values: list[str]) -> Json:
    return {"type": "custom", "name": name, "label": label, "query": ",".join(values), "multi": True,
            "includeAll": True, "allValue": ".*", "current": {"text": ["All"], "value": ["$__all"]},
            "options": [], "hide": 0}


def query_variable(name: str, label: str, query: str) -> Json:
    return {"type": "query", "name": name, "label": label, "datasource": DATASOURCE,
            "definition": query, "query": {"query": query, "refId": f"{name}-variable"}, "refresh": 2,
            "sort": 1, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0}


def dashboard(uid: str, title: str, description: str, panels: list[Json], variables: list[Json],
              time_from: str, tags: list[str]) -> Json:
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {"uid": uid, "title": title, "description": description, "tags": tags, "timezone": "utc",
            "editable": False, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": time_from, "to": "now"}, "timepicker": {},
            "templating": {"list": variables}, "annotations": {"list": []}, "links": [], "panels": panels}


def reciprocity() -> Json:
    window, code = 'window=~"$window"', 'jurisdiction=~"$jurisdiction"'
    evidence = "pipeline_reciprocity_evidence_total"
    tone = (f'sum by (jurisdiction) (increase(pipeline_crypto_tone_sum_total{{polarity="positive", {code}}}'
            f'[$__range]) or -increase(pipeline_crypto_tone_sum_total{{polarity="negative", {code}}}[$__range]))'
            f" / sum by (jurisdiction) (increase(pipeline_crypto_tone_articles_total{{{code}}}[$__range]))")
    tone_articles = f"sum by (jurisdiction) (increase(pipeline_crypto_tone_articles_total{{{code}}}[$__range]))"
    panels = [
        stat("Reciprocity index (last closed window)", (0, 0, 8, 5),
             targets((f"pipeline:reciprocity_index:current{{{window}}}", "{{window}}")),
             "Index of the latest closed window, per window size: > 0 Beijing reciprocates Hong Kong's crypto "
             "push, < 0 it pushes back.", decimals=3, minmax=(-1, 1), steps=INDEX_STEPS),
        stat("Evidence balance (up − down) / (up + down)", (8, 0, 8, 5),
             targets((f"pipeline:reciprocity_index:evidence_net_ratio{{{window}}}", "last {{window}}")),
             "Reciprocity evidence items found in articles over the trailing hour and day.",
             decimals=3, minmax=(-1, 1), steps=INDEX_STEPS),
        stat("Articles analysed and windows emitted", (16, 0, 8, 5),
             targets(("sum(increase(pipeline_articles_valid_total[$__range]))", "articles"),
                     (f"sum by (window) (increase(pipeline_windows_emitted_total{{{window}}}[$__range]))",
                      "windows {{window}}")),
             "Over the dashboard's time range.", decimals=0, steps=[(None, BLUE)]),
        timeseries("Reciprocity index over time", (0, 5, 12, 9),
                   targets((f"pipeline:reciprocity_index:current{{{window}}}", "index {{window}}"),
                           (f"pipeline:reciprocity_index:evidence_net_ratio{{{window}}}",
                            "evidence balance {{window}}")),
                   "The index of each window size as windows close, and the evidence balance behind it.",
                   minmax=(-1, 1)),
        timeseries("Crypto tone by jurisdiction", (12, 5, 12, 9),
                   targets((f"pipeline:crypto_tone:mean{{{window}, {code}}}", "{{jurisdiction}} {{window}}")),
                   "Mean tone toward crypto of the sentences about each jurisdiction (−1 to 1), over the "
                   "trailing hour or day.", minmax=(-1, 1)),
        timeseries("Evidence by kind and direction", (0, 14, 12, 9),
                   targets((f"sum by (kind, direction) (rate({evidence}[$__rate_interval])) * 3600",
                            "{{direction}} {{kind}}")),
                   "Evidence items per hour: up = toward Hong Kong's stance, down = away from it.",
                   unit="items/h", bars=True, stack=True),
        bargauge("Evidence by kind and direction (time range)", (12, 14, 12, 9),
                 targets((f"sort_desc(sum by (kind, direction) (increase({evidence}[$__range])))",
                          "{{direction}} {{kind}}"), instant=True),
                 "Evidence items over the dashboard's time range.", decimals=0, steps=[(None, BLUE)]),
        timeseries("Articles by jurisdiction", (0, 23, 12, 9),
                   targets((f"sum by (jurisdiction) (rate(pipeline_jurisdiction_mentions_total{{{code}}}"
                            "[$__rate_interval])) * 3600", "{{jurisdiction}}")),
                   "Enriched articles mentioning each jurisdiction, per hour.", unit="articles/h", stack=True),
        bargauge("Articles by jurisdiction (time range)", (12, 23, 12, 9),
                 targets((f"sort_desc(sum by (jurisdiction) (increase(pipeline_jurisdiction_mentions_total"
                          f"{{{code}}}[$__range])))", "{{jurisdiction}}"), instant=True),
                 "Enriched articles mentioning each jurisdiction over the dashboard's time range.",
                 decimals=0, steps=[(None, BLUE)]),
        panel("table", "Crypto tone by jurisdiction (time range)", (0, 32, 12, 9),
              [target(tone, ref="A", instant=True, table=True),
               target(tone_articles, ref="B", instant=True, table=True)],
              "Mean tone and number of articles with a tone, per jurisdiction, over the dashboard's time range.",
              decimals=3, options={"showHeader": True, "sortBy": [{"displayName": "articles", "desc": True}]}),
        text("Latest evidence", (12, 32, 12, 9),
             "Evidence sentences are not metrics: each closed window's record on `signals.reciprocity.v1` "
             "carries its top evidence (kind, polarity, sentence).\n\n```sh\n"
             "kcat -b localhost:9092 -C -o -10 -e -f '%k %s\\n' signals.reciprocity.v1\n```"),
    ]
    panels[9]["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True},
                                       "renameByName": {"Value #A": "mean tone", "Value #B": "articles"}}},
    ]
    variables = [custom_variable("window", "Window", ["1h", "1d"]),
                 query_variable("jurisdiction", "Jurisdiction",
                                "label_values(pipeline_crypto_tone_articles_total, jurisdiction)")]
    return dashboard("beijing-reciprocity", "Beijing reciprocity",
                     "Is mainland China warming to Hong Kong's licensed-crypto push, or pushing back?",
                     panels, variables, "now-7d", ["reciprocity", "signals"])


def health() -> Json:
    rate = "[$__rate_interval]"
    quantile = "histogram_quantile({q}, sum by (le) (rate(pipeline_processing_seconds_bucket" + rate + ")))"
    panels = [
        stat("Workers up", (0, 0, 6, 4), targets(('sum(up{job="pipeline-worker"})', "up")),
             "Worker replicas answering on /metrics.", decimals=0, steps=[(None, RED), (1, GREEN)]),
        stat("Raw messages / s", (6, 0, 6, 4),
             targets((f"sum(rate(pipeline_articles_received_total{rate}))", "received")), unit="ops"),
        stat("Consumer lag", (12, 0, 6, 4), targets(("sum(pipeline:consumer_lag:sum)", "messages")),
             "Messages fetched but not yet committed, all topics.", decimals=0,
             steps=[(None, GREEN), (1000, ORANGE)]),
        stat("Dead letters (time range)", (18, 0, 6, 4),
             targets(("sum(increase(pipeline_articles_dead_lettered_total[$__range])) or vector(0)", "dead letters")),
             "Messages sent to articles.dlq.v1 (0 until the first one).", decimals=0,
             steps=[(None, GREEN), (1, ORANGE)]),
        timeseries("Throughput", (0, 4, 12, 8),
                   targets((f"sum(rate(pipeline_articles_received_total{rate}))", "raw read"),
                           (f"sum(rate(pipeline_articles_valid_total{rate}))", "valid, analysed"),
                           (f"sum(rate(pipeline_articles_duplicate_total{rate}))", "duplicates dropped"),
                           (f"sum(rate(pipeline_articles_dead_lettered_total{rate}))", "dead-lettered"),
                           (f'sum(rate(pipeline_messages_sent_total{{topic="articles.enriched.v1"}}{rate}))',
                            "enriched sent")),
                   "Messages per second through the enrich stage.", unit="ops"),
        timeseries("Processing latency", (12, 4, 12, 8),
                   targets((quantile.format(q=0.5), "p50"), (quantile.format(q=0.95), "p95"),
                           (quantile.format(q=0.99), "p99")),
                   "Raw message read to enriched record sent.", unit="s"),
        timeseries("Dead letters by reason", (0, 12, 12, 8),
                   targets((f"sum by (reason) (rate(pipeline_articles_dead_lettered_total{rate}))", "{{reason}}")),
                   "Messages sent to articles.dlq.v1, by reason code.", unit="ops", bars=True, stack=True),
        timeseries("Duplicates", (12, 12, 12, 8),
                   targets((f"sum(rate(pipeline_articles_duplicate_total{rate}))", "at the door (same id)"),
                           (f"sum by (window) (rate(pipeline_window_duplicates_total{rate}))",
                            "in {{window}} windows (redelivery, same URL)")),
                   "Re-sent articles dropped at the door, and articles a window had already counted.", unit="ops"),
        timeseries("Late articles", (0, 20, 12, 8),
                   targets((f"sum by (window) (rate(pipeline_late_articles_total{rate}))", "{{window}}")),
                   "Articles that arrived after their window closed; the window is re-emitted as a new revision.",
                   unit="ops"),
        timeseries("Windows emitted", (12, 20, 12, 8),
                   targets((f"sum by (window) (rate(pipeline_windows_emitted_total{rate}))", "{{window}}")),
                   "signals.reciprocity.v1 records sent.", unit="ops"),
        timeseries("Worker count", (0, 28, 6, 8),
                   targets(('sum(up{job="pipeline-worker"})', "up"),
                           ('count(up{job="pipeline-worker"})', "discovered")),
                   "Replicas found by DNS service discovery, and those answering.", decimals=0),
        timeseries("Consumer lag by topic", (6, 28, 6, 8), targets(("pipeline:consumer_lag:sum", "{{topic}}")),
                   "Faust's view: high-water mark last fetched minus committed offset.", decimals=0),
        timeseries("Send failures", (12, 28, 6, 8),
                   targets((f"sum(rate(pipeline_send_failures_total{rate})) or vector(0)", "all topics")),
                   "Failed sends to an output topic (retried until they succeed); 0 until the first one.",
                   unit="ops"),
        timeseries("Commit latency", (18, 28, 6, 8),
                   targets((f"histogram_quantile(0.95, sum by (le) (rate(faust_consumer_commit_latency_bucket{rate})))",
                            "p95")),
                   "Faust's offset commits; slow commits point at a struggling broker.", unit="ms"),
    ]
    return dashboard("pipeline-health", "Pipeline health",
                     "Throughput, latency, dead letters, duplicates, late articles and workers of the pipeline.",
                     panels, [], "now-6h", ["reciprocity", "operations"])


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    boards = {"beijing-reciprocity.json": reciprocity(), "pipeline-health.json": health()}
    return {name: json.dumps(board, indent=2, ensure_ascii=False) + "\n" for name, board in boards.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            path.write_text(content, encoding="utf-8")
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
