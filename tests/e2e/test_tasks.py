"""The supervision hub end to end: a 12345 hotline case travels from the partner system to a
street and a community and back, with a signed webhook for every step; rollbacks past the
limit go up a level; another street sees nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from services.tasks.calendar import CST
from tests.e2e.conftest import demo_city

DISTRICT = demo_city.DISTRICT
NH, XH = f"{DISTRICT}/NH", f"{DISTRICT}/NH/XH"
Login = Callable[[str], dict[str, str]]


class Receiver:
    """A partner's webhook endpoint over real HTTP: keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.1)
        raise AssertionError(f"{len(self.received)} webhooks of {count} within {timeout} s")


@pytest.fixture(scope="module")
def hotline(http: httpx.Client, login: Login) -> Iterator[dict[str, Any]]:
    receiver = Receiver()
    created = http.post(
        "/v1/partner-clients",
        headers=login("admin"),
        json={
            "client_id": "hotline-e2e",
            "name": "12345 热线（测试）",
            "org_path": DISTRICT,
            "scopes": ["tasks:write", "tasks:read"],
            "webhook_url": receiver.url,
        },
    )
    assert created.status_code == 201, created.text
    client = created.json()
    token = http.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "hotline-e2e",
            "client_secret": client["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    yield {
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
        "secret": client["webhook_secret"],
        "receiver": receiver,
    }
    receiver.server.shutdown()
    receiver.server.server_close()


def ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_hotline_case_travels_down_and_back_with_a_webhook_for_every_step(
    http: httpx.Client, login: Login, hotline: dict[str, Any]
) -> None:
    case = {
        "title": "新华社区路口占道经营",
        "category": "city_management",
        "source": "hotline_12345",
        "external_id": "12345-20261123-0001",
        "jurisdiction": XH,
        "description": "市民来电反映早市摊贩占用人行道。",
        "limit": {"working_days": 3},
    }
    task = ok(http.post("/v1/tasks", headers=hotline["headers"], json=case), 201)
    assert task["status"] == "dispatched"
    assert task["receiver"] == NH  # the routing rule for 南湖's city management cases
    again = ok(http.post("/v1/tasks", headers=hotline["headers"], json=case), 200)
    assert again["id"] == task["id"]  # the same case from the hotline never makes two tasks

    tid = task["id"]
    street, community = login("staff.nh"), login("staff.xh")
    ok(http.post(f"/v1/tasks/{tid}/accept", headers=street))
    moved = ok(
        http.post(
            f"/v1/tasks/{tid}/transfer",
            headers=street,
            json={"unit": XH, "reason": "属新华社区网格"},
        )
    )
    assert moved["receiver"] == XH
    assert moved["status"] == "dispatched"
    ok(http.post(f"/v1/tasks/{tid}/accept", headers=community))
    ok(http.post(f"/v1/tasks/{tid}/start", headers=community))
    ok(http.post(f"/v1/tasks/{tid}/feedback", headers=community, json={"text": "已劝离摊贩。"}))
    rejected = ok(
        http.post(
            f"/v1/tasks/{tid}/review",
            headers=hotline["headers"],
            json={"decision": "reject", "reason": "市民反映仍有摊贩，请复查"},
        )
    )
    assert rejected["status"] == "feedback_rejected"
    ok(http.post(f"/v1/tasks/{tid}/start", headers=community))
    photo = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()  # a PNG's signature
    ok(
        http.post(
            f"/v1/tasks/{tid}/feedback",
            headers=community,
            json={
                "text": "已设置隔离护栏，摊贩迁入早市场。",
                "attachments": [
                    {"name": "现场.png", "content_type": "image/png", "content": photo}
                ],
            },
        )
    )
    done = ok(
        http.post(
            f"/v1/tasks/{tid}/review", headers=hotline["headers"], json={"decision": "approve"}
        )
    )
    assert done["status"] == "archived"
    assert done["on_time"] is True

    history = ok(http.get(f"/v1/tasks/{tid}/history", headers=street))
    steps = [(h["transition"], h["to"]) for h in history]
    assert steps == [
        ("create", "created"),
        ("dispatch", "dispatched"),
        ("accept", "accepted"),
        ("transfer", "dispatched"),
        ("accept", "accepted"),
        ("start", "in_progress"),
        ("feedback", "feedback_submitted"),
        ("reject_feedback", "feedback_rejected"),
        ("start", "in_progress"),
        ("feedback", "feedback_submitted"),
        ("approve", "approved"),
        ("archive", "archived"),
    ]
    assert history[1]["actor"]["name"] == "routing"
    assert history[2]["actor"]["unit"] == NH
    assert history[5]["actor"]["unit"] == XH
    assert history[7]["actor"]["client"] == "hotline-e2e"
    assert history[7]["reason"] == "市民反映仍有摊贩，请复查"

    # One signed webhook per step, in order, each verifiable with the partner's secret.
    received = hotline["receiver"].wait_for(len(history))
    mine = [json.loads(r["body"]) for r in received if json.loads(r["body"])["task_id"] == tid]
    assert [w["rev"] for w in mine] == list(range(1, len(history) + 1))
    assert [w["transition"] for w in mine] == [h["transition"] for h in history]
    assert mine[0]["external_id"] == "12345-20261123-0001"
    for r in received:
        parts = dict(p.split("=", 1) for p in r["headers"]["X-Webhook-Signature"].split(","))
        signed = hmac.new(
            hotline["secret"].encode(), f"{parts['t']}.".encode() + r["body"], hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(signed, parts["v1"])
    assert len({r["headers"]["X-Webhook-Id"] for r in received}) == len(received)


def test_rolled_back_past_the_limit_the_task_goes_up_a_level(
    http: httpx.Client, login: Login
) -> None:
    street, community, district = login("staff.nh"), login("staff.xh"), login("supervisor.hp")
    task = ok(
        http.post(
            "/v1/tasks",
            headers=street,
            json={
                "title": "楼道堆放杂物",
                "category": "fire_safety",
                "units": [XH],
            },
        ),
        201,
    )
    tid = task["id"]
    returned = ok(
        http.post(
            f"/v1/tasks/{tid}/rollback",
            headers=community,
            json={"reason_code": "insufficient_information", "reason": "缺少楼号"},
        )
    )
    assert returned["status"] == "returned"
    assert returned["dispatcher"] == NH
    ok(http.post(f"/v1/tasks/{tid}/dispatch", headers=street, json={"units": [XH]}))
    again = ok(
        http.post(
            f"/v1/tasks/{tid}/rollback",
            headers=community,
            json={"reason_code": "not_ours", "reason": "属物业管理范围"},
        )
    )
    assert again["status"] == "arbitration"
    assert again["dispatcher"] == DISTRICT  # the next level up arbitrates
    waiting = ok(http.get("/v1/tasks", headers=district, params={"state": "arbitration"}))
    assert tid in [t["id"] for t in waiting["items"]]
    # The street can no longer dispatch it; the district can.
    refused = http.post(f"/v1/tasks/{tid}/dispatch", headers=street, json={"units": [XH]})
    assert refused.status_code == 403
    ok(http.post(f"/v1/tasks/{tid}/dispatch", headers=district, json={"units": [NH]}))

    stats = ok(http.get(f"/v1/stats/units/{XH}", headers=street))
    assert stats["received"] >= 1
    assert stats["rollback_rate"] is not None
    assert stats["rollback_rate"] > 0
    street_stats = ok(http.get(f"/v1/stats/units/{NH}", headers=district))
    assert street_stats["received"] >= 1  # the district's new dispatch went to the street


def test_another_street_neither_sees_nor_acts_on_a_task(http: httpx.Client, login: Login) -> None:
    task = ok(
        http.post(
            "/v1/tasks",
            headers=login("staff.nh"),
            json={
                "title": "井盖缺失",
                "category": "city_management",
                "units": [XH],
            },
        ),
        201,
    )
    for who in ("staff.tyj", "supervisor.tyj"):
        headers = login(who)
        assert http.get(f"/v1/tasks/{task['id']}", headers=headers).status_code == 404
        assert http.get(f"/v1/tasks/{task['id']}/history", headers=headers).status_code == 404
        assert (
            http.post(f"/v1/tasks/{task['id']}/urge", headers=headers, json={}).status_code == 404
        )
        listed = ok(http.get("/v1/tasks", headers=headers))
        assert task["id"] not in [t["id"] for t in listed["items"]]
    # …while the street that dispatched it and the district above see it.
    for who in ("staff.nh", "supervisor.hp", "staff.xh"):
        assert http.get(f"/v1/tasks/{task['id']}", headers=login(who)).status_code == 200


def test_urging_is_recorded_and_rate_limited(http: httpx.Client, login: Login) -> None:
    task = ok(
        http.post(
            "/v1/tasks",
            headers=login("staff.nh"),
            json={
                "title": "路灯不亮",
                "category": "city_management",
                "units": [XH],
            },
        ),
        201,
    )
    urged = ok(
        http.post(
            f"/v1/tasks/{task['id']}/urge", headers=login("staff.nh"), json={"note": "居民再次来电"}
        )
    )
    assert urged["urges"] == 1
    second = http.post(f"/v1/tasks/{task['id']}/urge", headers=login("staff.nh"), json={})
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) > 0
    history = ok_list(http.get(f"/v1/tasks/{task['id']}/history", headers=login("staff.xh")))
    assert [(h["transition"], h["reason"]) for h in history][-1] == ("urge", "居民再次来电")


def test_bad_task_input_names_the_field(http: httpx.Client, login: Login) -> None:
    staff = login("staff.nh")
    cases = [
        ({"title": "x", "category": "c", "source": "no_such_source"}, "source"),
        ({"title": "x", "category": "c", "limit": {"working_days": 0}}, "limit.working_days"),
        ({"title": "x", "category": "c", "limit": {"fortnights": 1}}, "limit"),
        (
            {
                "title": "x",
                "category": "c",
                "attachments": [
                    {"name": "a.pdf", "content_type": "application/pdf", "content": "aGVsbG8="}
                ],
            },
            "attachments[0].content_type",
        ),
    ]
    for body, field in cases:
        response = http.post("/v1/tasks", headers=staff, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field


def test_parallel_dispatch_completes_the_parent_when_every_unit_is_approved(
    http: httpx.Client, login: Login
) -> None:
    district = login("supervisor.hp")
    tyj = f"{DISTRICT}/TYJ"
    parent = ok(
        http.post(
            "/v1/tasks",
            headers=district,
            json={
                "title": "全区燃气安全排查",
                "category": "safety",
                "units": [NH, tyj],
            },
        ),
        201,
    )
    assert parent["status"] == "dispatched"
    assert len(parent["children"]) == 2
    children = [ok(http.get(f"/v1/tasks/{c}", headers=district)) for c in parent["children"]]
    assert sorted(c["receiver"] for c in children) == [NH, tyj]
    # Each street sees its own child, not the other's.
    for child in children:
        own = login("staff.nh" if child["receiver"] == NH else "staff.tyj")
        other = login("staff.tyj" if child["receiver"] == NH else "staff.nh")
        assert http.get(f"/v1/tasks/{child['id']}", headers=other).status_code == 404
        for step, body in (("accept", None), ("start", None), ("feedback", {"text": "已排查"})):
            ok(http.post(f"/v1/tasks/{child['id']}/{step}", headers=own, json=body))
    first, second = children
    ok(http.post(f"/v1/tasks/{first['id']}/review", headers=district, json={"decision": "approve"}))
    assert ok(http.get(f"/v1/tasks/{parent['id']}", headers=district))["status"] == "dispatched"
    ok(
        http.post(
            f"/v1/tasks/{second['id']}/review", headers=district, json={"decision": "approve"}
        )
    )
    assert ok(http.get(f"/v1/tasks/{parent['id']}", headers=district))["status"] == "archived"


def test_a_partner_receives_feedback_and_answers_as_the_receiving_unit(
    http: httpx.Client, login: Login, hotline: dict[str, Any]
) -> None:
    """A task dispatched to the partner's own system (``partner:{client}``) travels back."""
    street = login("staff.nh")
    task = ok(
        http.post(
            "/v1/tasks",
            headers=street,
            json={
                "title": "需热线回访市民",
                "category": "follow_up",
                "units": ["partner:hotline-e2e"],
            },
        ),
        201,
    )
    unknown = http.post(
        "/v1/tasks",
        headers=street,
        json={"title": "x", "category": "follow_up", "units": ["partner:nobody"]},
    )
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "units"
    partner = hotline["headers"]
    ok(http.post(f"/v1/tasks/{task['id']}/accept", headers=partner))
    ok(http.post(f"/v1/tasks/{task['id']}/start", headers=partner))
    answered = ok(
        http.post(
            f"/v1/tasks/{task['id']}/feedback", headers=partner, json={"text": "已回访，市民满意"}
        )
    )
    assert answered["status"] == "feedback_submitted"
    done = ok(
        http.post(f"/v1/tasks/{task['id']}/review", headers=street, json={"decision": "approve"})
    )
    assert done["status"] == "archived"
    # The partner sees its own tasks only.
    listed = ok(http.get("/v1/tasks", headers=partner))
    assert {t["id"] for t in listed["items"]} >= {task["id"]}
    assert all(
        t["partner"] == "hotline-e2e" or t["receiver"] == "partner:hotline-e2e"
        for t in listed["items"]
    )


def test_supervisors_reassign_and_close(http: httpx.Client, login: Login) -> None:
    district = login("supervisor.hp")
    task = ok(
        http.post(
            "/v1/tasks",
            headers=login("staff.nh"),
            json={
                "title": "违章搭建",
                "category": "city_management",
                "units": [XH],
            },
        ),
        201,
    )
    refused = http.post(
        f"/v1/tasks/{task['id']}/reassign",
        headers=login("staff.xh"),
        json={"unit": f"{NH}/SD", "reason": "x"},
    )
    assert refused.status_code == 403
    moved = ok(
        http.post(
            f"/v1/tasks/{task['id']}/reassign",
            headers=district,
            json={"unit": f"{NH}/SD", "reason": "属三好社区"},
        )
    )
    assert moved["receiver"] == f"{NH}/SD"
    closed = ok(
        http.post(
            f"/v1/tasks/{task['id']}/close", headers=district, json={"reason": "当事人已自行拆除"}
        )
    )
    assert closed["status"] == "closed"
    again = http.post(f"/v1/tasks/{task['id']}/accept", headers=login("staff.nh"))
    assert again.status_code == 409
    assert again.json()["state"] == "closed"


def test_an_external_id_is_the_creators_own(http: httpx.Client, login: Login) -> None:
    """Two streets (or a street and a partner) using the same external id each get their
    own task; neither is handed the other's, nor learns it exists."""
    external = f"shared-{time.time_ns()}"
    body = {"title": "井盖松动", "category": "市政设施", "external_id": external}
    nanhu = http.post("/v1/tasks", headers=login("staff.nh"), json=body)
    assert nanhu.status_code == 201, nanhu.text
    again = http.post("/v1/tasks", headers=login("staff.nh"), json=body)
    assert (again.status_code, again.json()["id"]) == (200, nanhu.json()["id"])  # a retry
    other = http.post("/v1/tasks", headers=login("staff.tyj"), json=body)
    assert other.status_code == 201, other.text  # a task of its own, not Nanhu's
    assert other.json()["id"] != nanhu.json()["id"]
    assert "NH" not in json.dumps(other.json()["jurisdiction"] or "")


def test_a_refused_create_writes_nothing_and_the_corrected_retry_dispatches(
    http: httpx.Client, login: Login
) -> None:
    street = login("staff.nh")
    external = f"fix-{time.time_ns()}"
    body = {"title": "路面塌陷", "category": "市政设施", "external_id": external}
    wrong = http.post(
        "/v1/tasks", headers=street, json={**body, "units": [f"{DISTRICT}/TYJ"]}
    )  # another street: outside the dispatcher's reach
    assert wrong.status_code in (403, 404, 422), wrong.text
    fixed = http.post("/v1/tasks", headers=street, json={**body, "units": [XH]})
    assert fixed.status_code == 201, fixed.text  # created now, not an earlier half
    assert fixed.json()["receiver"] == XH
    assert fixed.json()["status"] == "dispatched"


def test_a_districts_statistics_count_its_streets_tasks_by_beijing_dates(
    http: httpx.Client, login: Login
) -> None:
    """A district counts every task of its subtree once, with a row per street; a date
    without an offset is a Beijing date; a unit that does not exist is not found."""
    district = login("supervisor.hp")
    today = datetime.now(CST).date().isoformat()

    def figures() -> tuple[int, int]:
        found = ok(
            http.get(f"/v1/stats/units/{DISTRICT}", headers=district, params={"from": today})
        )
        rows = {row["unit"]: row for row in found["by_unit"]}
        return found["received"], rows.get(NH, {"received": 0})["received"]

    before = figures()
    task = {"title": "路灯不亮", "category": "fire_safety", "units": [XH]}
    ok(http.post("/v1/tasks", headers=login("staff.nh"), json=task), 201)
    assert figures() == (before[0] + 1, before[1] + 1)  # once, under its street
    yesterday = (datetime.now(CST).date() - timedelta(days=1)).isoformat()
    through = ok(
        http.get(f"/v1/stats/units/{DISTRICT}", headers=district, params={"to": yesterday})
    )
    assert through["to"] == f"{yesterday}T16:00:00.000Z"  # to the end of that Beijing day
    missing = http.get(f"/v1/stats/units/{DISTRICT}/NOPE", headers=district)
    assert missing.status_code == 404
    assert missing.json()["field"] == "unit"
    for odd in ("11/01", "0001-01-01", "9999-12-31T23:59:59-05:00"):
        bad = http.get(f"/v1/stats/units/{DISTRICT}", headers=district, params={"from": odd})
        assert bad.status_code == 422, odd
        assert bad.json()["field"] == "from"


def test_the_unit_that_transferred_a_task_reviews_the_answer_and_its_files(
    http: httpx.Client, login: Login
) -> None:
    """流转 keeps the street answerable: it reads the community's answer with its photo as a
    file, and approves or rejects it; another street cannot."""
    task = ok(
        http.post(
            "/v1/tasks",
            headers=login("supervisor.hp"),
            json={
                "title": "三好社区楼道堆物",
                "category": "city_management",
                "units": [NH],
                "limit": {"working_days": 5},
            },
        ),
        201,
    )
    tid, street, community = task["id"], login("staff.nh"), login("staff.xh")
    ok(http.post(f"/v1/tasks/{tid}/accept", headers=street))
    ok(http.post(f"/v1/tasks/{tid}/transfer", headers=street, json={"unit": XH, "reason": "网格"}))
    ok(http.post(f"/v1/tasks/{tid}/accept", headers=community))
    ok(http.post(f"/v1/tasks/{tid}/start", headers=community))
    photo = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    answer = {
        "text": "已清理楼道堆物。",
        "attachments": [
            {
                "name": "清理后.png",
                "content_type": "image/png",
                "content": base64.b64encode(photo).decode(),
            }
        ],
    }
    ok(http.post(f"/v1/tasks/{tid}/feedback", headers=community, json=answer))

    seen = ok(http.get(f"/v1/tasks/{tid}", headers=street))
    assert seen["feedback"]["text"] == "已清理楼道堆物。"
    assert seen["transferred_by"] == [NH]
    (file,) = seen["feedback"]["attachments"]
    download = http.get(f"/v1/tasks/{tid}/attachments/{file['id']}", headers=street)
    assert download.status_code == 200
    assert download.content == photo  # the file itself, not base64 in JSON
    assert download.headers["content-type"] == "image/png"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E6%B8%85%E7%90%86%E5%90%8E.png" in disposition

    elsewhere = ok(  # a supervisor above could take it from the street: the street would
        http.post(  # no longer answer for it (its transfer is forgotten)
            "/v1/tasks",
            headers=login("supervisor.hp"),
            json={"title": "另案", "category": "city_management", "units": [NH]},
        ),
        201,
    )
    ok(http.post(f"/v1/tasks/{elsewhere['id']}/accept", headers=street))
    ok(http.post(f"/v1/tasks/{elsewhere['id']}/transfer", headers=street, json={"unit": XH}))
    taken = ok(
        http.post(
            f"/v1/tasks/{elsewhere['id']}/reassign",
            headers=login("supervisor.hp"),
            json={"unit": f"{DISTRICT}/TYJ", "reason": "改派太原街"},
        )
    )
    assert taken["transferred_by"] == []

    other = http.post(
        f"/v1/tasks/{tid}/review", headers=login("staff.tyj"), json={"decision": "approve"}
    )
    assert other.status_code == 404  # another street: as if there were no such task
    done = ok(http.post(f"/v1/tasks/{tid}/review", headers=street, json={"decision": "approve"}))
    assert done["status"] == "archived"
