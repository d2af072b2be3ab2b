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

from nameko.web.handlers import http

from services.common.bus_identity import GATEWAY
from services.common.sealed_rpc import SealedRpcProxy


class NamekoGateway:
    name = "bench_nameko_gateway"

    # The suite's services answer only sealed calls: seal each as the gateway does.
    certs = SealedRpcProxy("certs", signer=GATEWAY)

    @http("GET", "/v1/certificates/<string:number>/verify")
    def public_check(self, request: Any, number: str) -> tuple[int, dict[str, str], str]:
        answer = self.certs.public_check(number=number)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer, ensure_ascii=False)
