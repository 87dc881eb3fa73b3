"""The bench's broker helpers run against what the bench measures on: Apache Kafka (the fault tests' fixture)."""

from tests.faults.conftest import apache_kafka, kafka_assembled

__all__ = ["apache_kafka", "kafka_assembled"]  # fixtures, found by name
