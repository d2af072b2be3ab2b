"""A bounded mixed load on loopback for the fault tests: a few workers, each repeating one
city operation (a citizen's code scanned at a gate, a citizen showing a certificate field
that a hotel checks, a citizen reading their matches, a street opening and a community
accepting a task) with a client timeout, recording what every request got and how long it
took. Codes verified ``valid`` are kept, to check that
no ``jti`` was ever accepted twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.conftest import demo_city

CLIENT_TIMEOUT_S = 15.0  # the suite's RPC timeout is 5 s: anything longer is a hang
XH = f"{demo_city.DISTRICT}/NH/XH"


@dataclass(frozen=True)
class Outcome:
    operation: str
    status: int  # 0: no answer within the client timeout (a hang) or no connection
    seconds: float
    at: float


@dataclass
class Load:
    base_url: str
    tokens: dict[str, str]  # username → bearer token
    certificate: str | None = None  # citizen.li's, shown at a hotel (no presentations if None)
    pause_s: float = 0.2
    outcomes: list[Outcome] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # code tokens verified valid
    replays_accepted: list[str] = field(default_factory=list)  # must stay empty
    tasks: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _call(
        self,
        client: httpx.Client,
        operation: str,
        method: str,
        path: str,
        who: str,
        **kwargs: object,
    ) -> httpx.Response | None:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        try:
            response = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
            status = response.status_code
        except httpx.TimeoutException:
            response, status = None, 0
        except httpx.TransportError:
            response, status = None, -1  # refused: the gateway itself is not what we killed
        with self._lock:
            self.outcomes.append(
                Outcome(operation, status, time.monotonic() - started, time.time())
            )
        return response

    def _scan(self, client: httpx.Client) -> None:
        code = self._call(client, "code", "POST", "/v1/me/code", "citizen.wang")
        if code is None or code.status_code != 200:
            return
        token = code.json()["token"]
        body = {"token": token, "scene": "metro"}
        verified = self._call(
            client, "verify", "POST", "/v1/codes/verify", "verifier.metro", json=body
        )
        if verified is not None and verified.status_code == 200:
            with self._lock:
                self.accepted.append(token)
            # The same code again, as a forwarded screenshot would be: never accepted twice.
            again = self._call(
                client, "replay", "POST", "/v1/codes/verify", "verifier.metro", json=body
            )
            if again is not None and again.status_code == 200:
                with self._lock:
                    self.replays_accepted.append(token)

    def _present(self, client: httpx.Client) -> None:
        body = {"certificate_ids": [self.certificate], "fields": ["grade"]}
        shown = self._call(client, "present", "POST", "/v1/presentations", "citizen.li", json=body)
        if shown is None or shown.status_code != 201:
            return
        check = {"token": shown.json()["token"], "purpose": "hotel"}
        self._call(
            client,
            "presentation_verify",
            "POST",
            "/v1/presentations/verify",
            "verifier.hotel",
            json=check,
        )

    def _matches(self, client: httpx.Client) -> None:
        self._call(client, "matches", "GET", "/v1/me/matches", "citizen.li")

    def _task(self, client: httpx.Client) -> None:
        # Due in 20 s, so the escalation sweep raises its cards while the faults happen.
        due = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
        body = {
            "title": "路灯不亮",
            "category": "municipal",
            "units": [XH],
            "limit": {"due_at": due},
        }
        created = self._call(client, "task", "POST", "/v1/tasks", "staff.nh", json=body)
        if created is None or created.status_code != 201:
            return
        task = created.json()["id"]
        with self._lock:
            self.tasks.append(task)
        self._call(client, "accept", "POST", f"/v1/tasks/{task}/accept", "staff.xh")

    def _worker(self, step: Callable[[httpx.Client], None]) -> None:
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT_S) as client:
            while not self._stop.is_set():
                step(client)
                self._stop.wait(self.pause_s)

    def start(self) -> None:
        steps = [self._scan, self._scan, self._matches, self._task]
        if self.certificate is not None:
            steps.append(self._present)
        for step in steps:
            thread = threading.Thread(target=self._worker, args=(step,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_S + 5)

    def since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.at >= moment]
