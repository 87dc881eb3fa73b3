"""How the bench times a drain of a backlog: when it starts (every worker processing, the lead-in through), its
whole span, and the sustained rate of its workers while every one of them still had input.

A drain starts at the first poll that sees output past what was there before (the lead-in) and ends at its last
output record's timestamp, not at the poll that saw it: that poll came up to its interval (0.25 s) later, 0-10% of a
two-worker drain of 6,000 articles (about 2.5 s), 0-5% of one of 12,000. Nor do the workers run dry together: in 16
two-worker drains one of them finished its partitions 0.5-14% of the drain before the other, which worked on alone
(thirty-sixth session; the two spent about the same CPU an article, the first had less of the backlog). So the whole
span understates what two workers sustain while both have input, as they do under a steady stream. The sustained
rate is timed to the moment the first worker ran dry (its last output record); for one worker it is the whole
drain's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench.brokers import partitions_of, raw_partition, read_to_end, topic_count
from pipeline.demo import WorkerProcess
from pipeline.topics import ENRICHED

POLL_SECONDS = 0.25  # polling must not load the machine


@dataclass(frozen=True)
class Drain:
    """A drain of ``topic``'s output: ``articles`` records from ``started`` to ``ended`` (seconds since the epoch,
    the records' timestamps' clock)."""

    topic: str
    started: float  # the first poll that saw output past the count before the drain
    ended: float  # the last output record's timestamp (the poll that saw it if that could not be read)
    articles: int  # output records from the first poll's count to the last's

    @property
    def rate(self) -> float:
        return self.articles / max(self.ended - self.started, 1e-6)


def wait_all_processing(bootstrap: str, group: list[WorkerProcess], at_least: int = 0,
                        timeout: float = 120.0) -> int:
    """Wait until every worker has received articles and at least ``at_least`` are enriched; returns the enriched
    count at that moment."""
    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)  # one connection for every poll of the lead-in
    try:
        while time.monotonic() < deadline:
            if all(metric_value(w.scrape() or "", "pipeline_articles_received_total") for w in group):
                count = topic_count(bootstrap, ENRICHED.name, consumer)
                if count >= at_least:
                    return count
            time.sleep(0.1)
    finally:
        consumer.close()
    raise TimeoutError(f"not every worker received articles, or fewer than {at_least} were enriched, within "
                       f"{timeout:.0f}s")


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def drain(bootstrap: str, topic: str, total: int, timeout: float, already: int = 0) -> Drain:
    """Poll ``topic``'s end offsets until it holds ``total`` records; the drain starts at the first poll that
    counts more than ``already``."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None  # when the drain started, and the count then
    count = 0
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)  # one connection for every poll
    try:
        while time.monotonic() < deadline:
            count = topic_count(bootstrap, topic, consumer)
            now = time.time()
            if count > already and first is None:
                first = now, count
            if count >= total:
                if first is None:
                    raise RuntimeError(f"{topic}: the drain was over before its first poll ({count} records, "
                                       f"{already} of them before it)")
                return Drain(topic, first[0], min(last_record_time(consumer, topic) or now, now), count - first[1])
            time.sleep(POLL_SECONDS)
    finally:
        consumer.close()
    raise TimeoutError(f"{topic}: {count} of {total} records after {timeout:.0f}s")


def last_record_time(consumer: KafkaConsumer, topic: str, timeout: float = 10.0) -> float | None:
    """The latest timestamp (s since the epoch) among the last records of ``topic``'s partitions, read with
    ``consumer`` (which then stays assigned to them); None if a partition's last offset holds no record to read
    (a transaction's marker) or the reads time out."""
    partitions = partitions_of(consumer, topic)
    ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end}
    consumer.assign(list(ends))
    for tp, end in ends.items():
        consumer.seek(tp, end - 1)
    latest, unread = 0, set(ends)
    deadline = time.monotonic() + timeout
    while unread and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            latest = max([latest, *(record.timestamp for record in records)])
            unread.discard(tp)
    return latest / 1000 if ends and not unread else None


MIN_BUSY_SHARE = 0.5  # a shorter span with every worker busy is too few batches to time: the whole drain's rate


@dataclass(frozen=True)
class Sustained:
    """The drain's rate while every worker had input, and the share of the drain's span that was; or the whole
    drain's rate, and why (``whole``)."""

    rate: float
    busy_share: float
    whole: str = ""


def sustained(bootstrap: str, group: str, source: str, drained: Drain) -> Sustained:
    """``drained``'s rate up to the moment the first of ``group``'s members ran dry: the latest timestamp of an
    output record keyed like an input record of that member's ``source`` partitions (:func:`raw_partition`: the
    bench's producer placed each key). One member runs dry at the drain's end: its rate is the whole drain's. For
    more, reads the output records stamped after the drain started, so call it after the drain's CPU is
    measured."""
    owners = source_partitions(bootstrap, group, source)
    if len(owners) == 1 and owners[0]:
        return Sustained(drained.rate, 1.0)
    if not all(owners):
        return Sustained(drained.rate, 1.0, "a worker held none of the input's partitions")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = len(partitions_of(consumer, source))
        since = offsets_at(consumer, drained.topic, drained.started)
    finally:
        consumer.close()
    if not set(range(partitions)) <= frozenset().union(*owners):
        return Sustained(drained.rate, 1.0, "the group's assignment did not cover the input (a rebalance?)")
    member_of = {partition: member for member, partitions in enumerate(owners) for partition in partitions}
    last: dict[int, float] = {}  # member -> its latest output record's timestamp
    stamps = []
    for record in read_to_end(bootstrap, drained.topic, since):
        stamp = record.timestamp / 1000
        if stamp > drained.started:
            member = member_of[raw_partition(record.key, partitions)]
            stamps.append(stamp)
            last[member] = max(last.get(member, stamp), stamp)
    if len(last) < len(owners):
        return Sustained(drained.rate, 0.0, "a worker had no input left when the timing began")
    dry = min(last.values())
    share = round(min((dry - drained.started) / max(drained.ended - drained.started, 1e-6), 1.0), 3)
    if share < MIN_BUSY_SHARE:
        return Sustained(drained.rate, share, f"every worker had input for only {share:.0%} of the drain")
    return Sustained(sum(1 for stamp in stamps if stamp <= dry) / (dry - drained.started), share)


def offsets_at(consumer: KafkaConsumer, topic: str, moment: float) -> dict[TopicPartition, int]:
    """Where each of ``topic``'s partitions holds its first record stamped at ``moment`` (s since the epoch) or
    later, else its end: every record before it is stamped earlier."""
    partitions = partitions_of(consumer, topic)
    found = consumer.offsets_for_times({tp: int(moment * 1000) for tp in partitions})
    ends = consumer.end_offsets(partitions)
    return {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in partitions}


def source_partitions(bootstrap: str, group: str, topic: str) -> list[frozenset[int]]:
    """The partitions of ``topic`` each member of consumer group ``group`` holds (empty for a member holding
    none; no members unless the group is stable)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        description = admin.describe_groups([group])[group]  # assignments decoded (the consumer protocol's)
    finally:
        admin.close()
    if description.get("group_state") != "Stable":
        return [frozenset()]
    owned = []
    for member in description["members"]:
        assignment = member.get("member_assignment") or {}
        owned.append(frozenset(partition for assigned in assignment.get("assigned_partitions", [])
                               if assigned["topic"] == topic for partition in assigned["partitions"]))
    return owned or [frozenset()]
