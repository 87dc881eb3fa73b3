"""The naive pipeline the benchmark compares against: one Faust agent, VADER on the whole article.

    python -m bench.naive BROKER_URL WEB_PORT

It reads ``articles.raw.v1``, decodes JSON, runs VADER's ``polarity_scores`` on title + text and awaits one
send per article to ``bench.naive.v1``: what a first attempt at this pipeline looks like.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import faust
from prometheus_client import CollectorRegistry
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.topics import RAW

OUTPUT = "bench.naive.v1"


def create_app(broker: str, web_port: int) -> faust.App:
    app = faust.App("bench-naive", broker=broker, store="memory://", web_port=web_port, web_bind="127.0.0.1",
                    broker_rebalance_timeout=3.0, consumer_auto_offset_reset="earliest", autodiscover=False)
    from faust.sensors.prometheus import setup_prometheus_sensors

    setup_prometheus_sensors(app, registry=CollectorRegistry(), name_prefix="naive")
    raw = app.topic(RAW.name, key_serializer="raw", value_serializer="raw")
    out = app.topic(OUTPUT, key_serializer="raw", value_serializer="json", partitions=1)
    vader = SentimentIntensityAnalyzer()

    @app.agent(raw)
    async def score(stream: Any) -> None:
        async for key, value in stream.items():
            article = json.loads(value)
            tone = vader.polarity_scores(f"{article['title']}\n\n{article['text']}")["compound"]
            await out.send(key=key, value={"id": article["id"], "sentiment": tone})

    return app


def main() -> None:
    app = create_app(sys.argv[1], int(sys.argv[2]))
    faust.Worker(app, loglevel="warning", redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
