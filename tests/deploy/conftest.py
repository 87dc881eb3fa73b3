"""The deploy tests reuse the integration tier's real-broker fixtures (imported so pytest sees them here)."""

from tests.integration.conftest import broker, settings_for, start_worker

__all__ = ["broker", "settings_for", "start_worker"]
