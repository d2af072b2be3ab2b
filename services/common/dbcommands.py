"""Every command a process sends to its database, counted: each is a round trip. Exported as
``db_commands_total{database, command}`` with the process's other Prometheus metrics, so a
bench reads how many round trips an operation costs in each process (the gateway, each
service) by scraping before and after."""

from __future__ import annotations

from prometheus_client import Counter
from pymongo import monitoring

DB_COMMANDS = Counter(
    "db_commands_total", "Commands sent to the database (round trips)", ["database", "command"]
)


class CommandCount(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        DB_COMMANDS.labels(event.database_name, event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Counted when sent."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Counted when sent."""


COMMAND_COUNT = CommandCount()
