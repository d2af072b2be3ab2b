"""What each process of a running suite spent, read before and after a bench: database round
trips (``db_commands_total``, counted by every process's database client) and CPU seconds
(``process_cpu_seconds_total``) from the gateway's and each service's Prometheus metrics,
and the CPU of RabbitMQ and the database from /proc. The difference over the operations the
bench ran is the cost of one operation, by process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from services.common.dbcommands import DB_COMMANDS

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
BACKING = {"rabbitmq": "beam.smp", "ferretdb": "ferretdb"}


def _scrape(url: str, token: str = "") -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    text = httpx.get(url, timeout=10, headers=headers).text
    commands = cpu = 0.0
    for line in text.splitlines():
        if line.startswith("db_commands_total{"):
            commands += float(line.rsplit(" ", 1)[1])
        elif line.startswith("process_cpu_seconds_total "):
            cpu = float(line.rsplit(" ", 1)[1])
    return {"db_commands": commands, "cpu_s": cpu}


def cpu_of(command: str) -> float:
    """CPU seconds of every process whose command name starts with ``command``."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
        except (OSError, IndexError):
            continue
        if name.startswith(command[:15]):
            values = fields[1].split()
            total += (int(values[11]) + int(values[12])) / TICKS
    return total


def snapshot(gateway: str, suite: str = "main", token: str = "") -> dict[str, dict[str, float]]:
    """Each process's counters now (``token``: the gateway's METRICS_TOKEN, if it has one)."""
    found = {"gateway": _scrape(f"{gateway}/metrics", token)}
    for port_file in sorted((ROOT / "var" / "run" / suite).glob("*.metrics")):
        port = int(port_file.read_text().strip())
        found[port_file.stem] = _scrape(f"http://127.0.0.1:{port}/metrics")
    for name, command in BACKING.items():
        found[name] = {"db_commands": 0.0, "cpu_s": cpu_of(command)}
    return found


def per_operation(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], operations: int
) -> dict[str, Any]:
    """Round trips and CPU milliseconds per operation, by process."""
    cost: dict[str, Any] = {}
    for process, now in after.items():
        then = before.get(process, {"db_commands": 0.0, "cpu_s": 0.0})
        trips = (now["db_commands"] - then["db_commands"]) / max(operations, 1)
        cpu = (now["cpu_s"] - then["cpu_s"]) * 1000 / max(operations, 1)
        cost[process] = {"db_round_trips": round(trips, 2), "cpu_ms": round(cpu, 3)}
    return cost


def commands_to(database: str) -> float:
    """Commands this process has sent to ``database`` (round trips), as every client of
    ``client_for`` counts them (``db_commands_total``)."""
    return sum(
        sample.value
        for metric in DB_COMMANDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("database") == database
    )
