"""Prometheus metrics of a nameko service, served by each process at
``http://<host>:METRICS_PORT/metrics`` (``METRICS_PORT`` 0 or unset: not served; when
another program holds the port, on one the system chooses, written to ``METRICS_PORT_FILE``):

- ``service_calls_seconds{service, method, outcome}``: every worker (RPC, event, timer) with
  its latency; outcome ``ok``, ``refused`` (a domain error: bad input, not found, conflict)
  or ``failed`` (a bug or an unreachable part);
- ``service_errors_total{service, method, type}``: refusals and failures by error type;
- ``service_queue_messages{service, queue}`` and ``service_queue_consumers``: what waits in
  the queues this service consumes (its RPC queue and one per event handler), read from the
  broker when scraped;
- whatever the service adds from its database when scraped (``extra``): payouts by state
  for policy, the escalation sweep's lag for tasks.

Declared on a service as ``metrics = ServiceMetrics(extra=...)``; ``CallContext`` records
the calls.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kombu.connection import Connection
from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pymongo.database import Database

from services.common.errors import DomainError

log = logging.getLogger(__name__)

CALL_SECONDS = Histogram(
    "service_calls_seconds", "Workers by method and outcome", ["service", "method", "outcome"]
)
ERRORS = Counter(
    "service_errors_total", "Refused or failed calls by error type", ["service", "method", "type"]
)

Extra = Callable[[Database[Any]], Iterable[Metric]]


def record_call(service: str, method: str, seconds: float, error: BaseException | None) -> None:
    """One finished worker; a domain error is a refusal, anything else a failure."""
    if error is None:
        outcome = "ok"
    else:
        outcome = "refused" if isinstance(error, DomainError) else "failed"
        ERRORS.labels(service, method, type(error).__name__).inc()
    CALL_SECONDS.labels(service, method, outcome).observe(seconds)


class QueueDepths(Collector):
    """Messages waiting and consumers attached, per queue, asked of the broker at scrape."""

    def __init__(self, service: str, amqp_uri: str, queues: list[str]) -> None:
        self.service, self.amqp_uri, self.queues = service, amqp_uri, queues

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "service_queue_messages", "Messages waiting", labels=["service", "queue"]
        )
        consumers = GaugeMetricFamily(
            "service_queue_consumers", "Consumers attached", labels=["service", "queue"]
        )
        try:
            with Connection(self.amqp_uri, connect_timeout=2) as connection:  # type: ignore[no-untyped-call]
                channel = connection.default_channel
                for queue in self.queues:
                    _, messages, attached = channel.queue_declare(queue=queue, passive=True)
                    waiting.add_metric([self.service, queue], messages)
                    consumers.add_metric([self.service, queue], attached)
        except Exception as exc:  # the broker is away: say nothing rather than fail the scrape
            log.warning("queue depths unavailable", extra={"error": type(exc).__name__})
            return
        yield waiting
        yield consumers


class DatabaseGauges(Collector):
    def __init__(self, database: Database[Any], extra: Extra) -> None:
        self.database, self.gauges = database, extra

    def collect(self) -> Iterator[Metric]:
        try:
            yield from list(self.gauges(self.database))
        except Exception as exc:  # the database is away: the calls' errors already say so
            log.warning("database gauges unavailable", extra={"error": type(exc).__name__})


def consumed_queues(container: Any) -> list[str]:
    """The RPC queue and every event handler's queue of a service container."""
    names = {f"rpc-{container.service_name}"}
    for entrypoint in container.entrypoints:
        queue = getattr(entrypoint, "queue", None)
        if queue is not None and getattr(queue, "name", None):
            names.add(queue.name)
    return sorted(names)


def serve(port: int) -> int:
    """Serve the metrics on ``port``, or, when another program holds that port, on one the
    system chooses (logged as an error: a scraper must be told): a process that cannot show
    its metrics still serves the city. Returns the port served."""
    try:
        server, _thread = start_http_server(port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        server, _thread = start_http_server(0)
        log.error("metrics port taken", extra={"port": port, "served": server.server_port})
    else:
        log.info("metrics served", extra={"port": server.server_port})
    return int(server.server_port)


class ServiceMetrics(DependencyProvider):  # type: ignore[misc]
    """Starts the metrics endpoint of this process (once) and registers the collectors."""

    def __init__(self, extra: Extra | None = None) -> None:
        self.extra = extra

    def start(self) -> None:
        port = int(self.container.config.get("METRICS_PORT") or 0)
        if not port:
            return
        REGISTRY.register(
            QueueDepths(
                self.container.service_name,
                self.container.config["AMQP_URI"],
                consumed_queues(self.container),
            )
        )
        database = self._database()
        if self.extra is not None and database is not None:
            REGISTRY.register(DatabaseGauges(database, self.extra))
        served = serve(port)
        where = self.container.config.get("METRICS_PORT_FILE")
        if where:  # for whoever scrapes this process without knowing its port (local tests)
            Path(where).write_text(str(served))

    def _database(self) -> Database[Any] | None:
        for dependency in self.container.dependencies:
            found = getattr(dependency, "database", None)
            if isinstance(found, Database):
                return found
        return None

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
