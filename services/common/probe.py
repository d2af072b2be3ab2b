"""``python -m services.common.probe SERVICE``: exit 0 when SERVICE answers its ``health`` RPC.

A container health check or Kubernetes exec probe for nameko workers, which serve no HTTP.
Uses nameko's own standalone RPC proxy on the broker named by ``AMQP_URI``, signing the
call as the service itself (the probe runs in its container, with its key): a service admits
an unsigned call from nobody.
"""

from __future__ import annotations

import os
import sys
import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

from services.common.bus_identity import BusKeys  # noqa: E402 - after the warning filter
from services.common.sealed_rpc import sealed_cluster_proxy  # noqa: E402


def probe(service: str, amqp_uri: str, timeout: float = 5.0) -> bool:
    try:
        keys = BusKeys.from_config(dict(os.environ), service)
        with sealed_cluster_proxy({"AMQP_URI": amqp_uri}, keys, timeout=timeout) as cluster:
            answer = getattr(cluster, service).health()
    except Exception as exc:  # any failure means not healthy
        print(f"{service}: not healthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    return bool(answer.get("status") == "ok")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m services.common.probe SERVICE")
    uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    raise SystemExit(0 if probe(sys.argv[1], uri) else 1)


if __name__ == "__main__":
    main()
