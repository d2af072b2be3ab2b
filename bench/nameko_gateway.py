"""For bench/city_day.py only: one operation of the API served the way nameko's own examples
build a gateway (nameko/nameko-examples: an ``@http`` entrypoint on werkzeug and eventlet,
calling the service through ``RpcProxy``), so the FastAPI + pika gateway's overhead can be
measured beside it on the same suite.

It serves the public authenticity check, ``GET /v1/certificates/<number>/verify``, which
needs no token: neither gateway spends time on authentication for it, so the comparison is
transport and framework only. Not a product: no rate limit, no problem+json, no metrics.

    nameko run --config bench/nameko_gateway.yaml bench.nameko_gateway
"""

from __future__ import annotations

import json
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.web.handlers import http

from services.common.bus_identity import GATEWAY, BusKeys


class SignsAsTheGateway(DependencyProvider):  # type: ignore[misc]
    """The suite's services answer only signed calls: sign this one as the gateway does."""

    def setup(self) -> None:
        self.keys = BusKeys.from_config(self.container.config, GATEWAY)

    def worker_setup(self, worker_ctx: Any) -> None:
        worker_ctx.data["caller"] = self.keys.caller_header()


class NamekoGateway:
    name = "bench_nameko_gateway"

    certs = RpcProxy("certs")
    signed = SignsAsTheGateway()

    @http("GET", "/v1/certificates/<string:number>/verify")
    def public_check(self, request: Any, number: str) -> tuple[int, dict[str, str], str]:
        answer = self.certs.public_check(number=number)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer, ensure_ascii=False)
