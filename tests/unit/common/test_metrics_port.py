"""A service whose metrics port another program holds still starts, and says where it
serves its metrics instead."""

from __future__ import annotations

import socket

import httpx

from services.common.metrics import serve


def test_a_taken_metrics_port_moves_the_metrics_instead_of_stopping_the_service() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        served = serve(taken)
        assert served != taken
        answer = httpx.get(f"http://127.0.0.1:{served}/metrics", timeout=5)
        assert answer.status_code == 200
        assert "# TYPE" in answer.text


def test_a_free_metrics_port_is_served_as_configured() -> None:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        free = probe.getsockname()[1]
    assert serve(free) == free
    assert httpx.get(f"http://127.0.0.1:{free}/metrics", timeout=5).status_code == 200
