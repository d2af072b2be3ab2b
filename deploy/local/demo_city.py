"""Load a small demo city through the gateway, as its administrator would.

One district of Shenyang (和平区) with two streets, their communities and three departments;
a supervisor, street staff, a hotel verifier, citizens, an enterprise operator and the
12345 hotline as a partner client. Safe to run again: what exists is left as it is.

    python deploy/local/demo_city.py http://127.0.0.1:8000
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

DEMO_PASSWORD = "Demo-pass-2026"  # noqa: S105 - printed demo login, local only
CITY = "CN-LN-SY"
DISTRICT = f"{CITY}/HP"

ORG_UNITS: list[dict[str, Any]] = [
    {"code": CITY, "name": "沈阳市", "kind": "city", "parent": None},
    {"code": "HP", "name": "和平区", "kind": "district", "parent": CITY},
    {"code": "NH", "name": "南湖街道", "kind": "street", "parent": DISTRICT},
    {"code": "TYJ", "name": "太原街街道", "kind": "street", "parent": DISTRICT},
    {"code": "XH", "name": "新华社区", "kind": "community", "parent": f"{DISTRICT}/NH"},
    {"code": "SD", "name": "三好社区", "kind": "community", "parent": f"{DISTRICT}/NH"},
    {"code": "ZS", "name": "中山社区", "kind": "community", "parent": f"{DISTRICT}/TYJ"},
    {"code": "MZ", "name": "民政局", "kind": "department", "parent": DISTRICT},
    {"code": "SJ", "name": "市场监督管理局", "kind": "department", "parent": DISTRICT},
    {"code": "CL", "name": "残疾人联合会", "kind": "department", "parent": DISTRICT},
    {"code": "YJ", "name": "药品监督管理局", "kind": "department", "parent": DISTRICT},
]

ACCOUNTS: list[dict[str, Any]] = [
    {
        "username": "supervisor.hp",
        "display_name": "和平区督办员 赵敏",
        "roles": ["supervisor"],
        "org_path": DISTRICT,
    },
    {
        "username": "staff.nh",
        "display_name": "南湖街道 王芳",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/NH",
    },
    {
        "username": "supervisor.nh",
        "display_name": "南湖街道督办员 刘洋",
        "roles": ["supervisor"],
        "org_path": f"{DISTRICT}/NH",
    },
    {
        "username": "supervisor.tyj",
        "display_name": "太原街街道督办员 陈晨",
        "roles": ["supervisor"],
        "org_path": f"{DISTRICT}/TYJ",
    },
    {
        "username": "staff.xh",
        "display_name": "新华社区 郑丽",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/NH/XH",
    },
    {
        "username": "staff.tyj",
        "display_name": "太原街街道 李强",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/TYJ",
    },
    {
        "username": "staff.cl",
        "display_name": "区残联 孙丽",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/CL",
    },
    {
        "username": "doctor.hp",
        "display_name": "和平区人民医院 张医生",
        "roles": ["assessor"],
        "org_path": f"{DISTRICT}/CL",
    },
    {
        "username": "auditor.hp",
        "display_name": "区审计局 钱明",
        "roles": ["auditor"],
        "org_path": DISTRICT,
    },
    {
        "username": "staff.mz",
        "display_name": "区民政局 郑丽娟",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/MZ",
    },
    {
        "username": "staff.sj",
        "display_name": "区市场监管局 周涛",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/SJ",
    },
    {
        "username": "staff.yj",
        "display_name": "区药监局 吴静",
        "roles": ["staff"],
        "org_path": f"{DISTRICT}/YJ",
    },
    {
        "username": "verifier.hotel",
        "display_name": "和平饭店前台",
        "roles": ["verifier"],
        "org_path": f"{DISTRICT}/NH",
        "scenes": ["hotel"],
    },
    {
        "username": "verifier.metro",
        "display_name": "地铁青年大街站闸机",
        "roles": ["verifier"],
        "org_path": DISTRICT,
        "scenes": ["metro", "bus"],
    },
    {
        "username": "ent.xinghe",
        "display_name": "星河科技有限公司 经办人",
        "roles": ["enterprise"],
        "org_path": f"{DISTRICT}/NH",
    },
]

# Invented people: the numbers are well-formed (checksums computed) but belong to no one.
PERSONS: list[dict[str, Any]] = [
    {
        "name": "王建国",
        "id_number": "210102196605041011",
        "org_path": f"{DISTRICT}/NH/XH",
        "phone": "13800000001",
        "medical_insurance": True,
        "registrar": "staff.nh",
        "account": {"username": "citizen.wang"},
    },
    {
        "name": "李秀英",
        "id_number": "210102194811201021",
        "org_path": f"{DISTRICT}/TYJ/ZS",
        "phone": "13800000002",
        "registrar": "staff.tyj",
        "account": {"username": "citizen.li"},
    },
    {
        "name": "王小梅",
        "id_number": "210102198508081045",
        "org_path": f"{DISTRICT}/NH/XH",
        "phone": "13800000003",
        "registrar": "staff.nh",
        "account": {"username": "citizen.xiaomei"},
    },
]

ORGANISATIONS: list[dict[str, Any]] = [
    {
        "name": "沈阳星河科技有限公司",
        "credit_code": "91210102MA0XH2026U",
        "org_path": f"{DISTRICT}/NH",
        "registrar": "staff.nh",
        "operator": "ent.xinghe",
    },
]

ISSUERS: list[dict[str, Any]] = [
    {
        "code": "HPCL",
        "name": "和平区残疾人联合会",
        "org_path": f"{DISTRICT}/CL",
        "types": ["disability_certificate"],
    },
    {
        "code": "HPSJ",
        "name": "和平区市场监督管理局",
        "org_path": f"{DISTRICT}/SJ",
        "types": ["business_licence", "food_trading_licence", "pharmacy_composite_licence"],
    },
    {
        "code": "HPYJ",
        "name": "和平区药品监督管理局",
        "org_path": f"{DISTRICT}/YJ",
        "types": ["drug_trading_licence"],
    },
]

PARTNERS: list[dict[str, Any]] = [
    {
        "client_id": "hotline-12345",
        "name": "12345 政务服务便民热线",
        "scopes": ["tasks:write", "tasks:read"],
        "org_path": DISTRICT,
    },
]


# Hotline cases about city management in 南湖 go straight to its street office.
ROUTING_RULES: list[dict[str, Any]] = [
    {
        "match": {
            "source": "hotline_12345",
            "category": "city_management",
            "jurisdiction": f"{DISTRICT}/NH",
        },
        "unit": f"{DISTRICT}/NH",
    },
]


# Feed facts the demo city's pilots read, declared by the department that runs them (the
# built-in kinds are in services/policy/fact_kinds.py).
FACT_KINDS: list[dict[str, Any]] = [
    {"name": "pilot_group", "label": "试点分组", "type": "text", "declarer": "staff.cl"},
]


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    response = client.post(path, json=body)
    if response.status_code == 409:
        return None
    if response.status_code >= 400:
        raise SystemExit(f"{path} {body}: {response.status_code} {response.text}")
    result: dict[str, Any] = response.json()
    return result


def _as(admin: httpx.Client, base_url: str, username: str) -> httpx.Client:
    """A client logged in as a demo account (staff register the people of their own area)."""
    token = admin.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": DEMO_PASSWORD},
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )


def load(base_url: str, admin_user: str, admin_password: str, state_dir: Path) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": admin_user, "password": admin_password},
        )
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        for unit in ORG_UNITS:
            _post(client, "/v1/org-units", unit)
        for account in ACCOUNTS:
            _post(client, "/v1/accounts", {**account, "password": DEMO_PASSWORD})
        for person in PERSONS:
            body = {k: v for k, v in person.items() if k != "registrar"}
            body["account"] = {**person["account"], "password": DEMO_PASSWORD}
            with _as(client, base_url, person["registrar"]) as staff:
                _post(staff, "/v1/persons", body)
        accounts = {
            a["username"]: a
            for a in client.get("/v1/accounts", params={"limit": 200}).json()["items"]
        }
        for org in ORGANISATIONS:
            body = {k: v for k, v in org.items() if k not in ("registrar", "operator")}
            with _as(client, base_url, org["registrar"]) as staff:
                created = _post(staff, "/v1/organisations", body)
                if created is not None:
                    operator = {"account_id": accounts[org["operator"]]["id"], "role": "operator"}
                    _post(staff, f"/v1/organisations/{created['id']}/operators", operator)
        for issuer in ISSUERS:
            _post(client, "/v1/issuers", issuer)
        for kind in FACT_KINDS:
            with _as(client, base_url, kind["declarer"]) as staff:
                _post(staff, "/v1/fact-kinds", {k: v for k, v in kind.items() if k != "declarer"})
        existing = client.get("/v1/routing-rules").json()
        for rule in ROUTING_RULES:
            if not any(r["match"] == rule["match"] for r in existing):
                _post(client, "/v1/routing-rules", rule)
        partners_file = state_dir / "demo-partners.json"
        secrets: dict[str, str] = (
            json.loads(partners_file.read_text()) if partners_file.exists() else {}
        )
        for partner in PARTNERS:
            created = _post(client, "/v1/partner-clients", partner)
            if created is not None:
                secrets[partner["client_id"]] = created["client_secret"]
        state_dir.mkdir(parents=True, exist_ok=True)
        partners_file.write_text(json.dumps(secrets, indent=2))
        partners_file.chmod(0o600)
    usernames = [a["username"] for a in ACCOUNTS] + [p["account"]["username"] for p in PERSONS]
    return {"accounts": usernames, "partners": secrets}


def main() -> None:
    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    state_dir = Path(os.environ.get("VAR", "var"))
    summary = load(
        base_url,
        os.environ.get("FIRST_ADMIN_USER", "admin"),
        os.environ.get("FIRST_ADMIN_PASSWORD", "Admin-demo-2026"),
        state_dir,
    )
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
