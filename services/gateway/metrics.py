"""Prometheus metrics of the gateway, at ``GET /metrics``: requests by route and status with
their latency, RPC calls by service and method with their latency and outcome, and whether
the broker connection is up. Route templates (``/v1/persons/{person_id}``), never raw
paths, so ids do not become label values."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REQUESTS = Counter("gateway_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram("gateway_request_seconds", "HTTP request latency", ["method", "route"])
RPC_SECONDS = Histogram("gateway_rpc_seconds", "RPC latency", ["service", "method", "outcome"])
BROKER_UP = Gauge("gateway_broker_connected", "1 when the RPC connection to the broker is up")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def render() -> bytes:
    return bytes(generate_latest())
