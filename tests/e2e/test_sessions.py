"""Sessions end when they should, on the next request: logging out, logging out everywhere
else (a lost phone), ending one device, a changed or reset password, a disabled account or
partner client. Each test uses accounts of its own (the session's cached logins stay valid)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx

from tests.e2e.test_foundation import assert_problem
from tests.idnumbers import resident_id

Login = Callable[[str], dict[str, str]]
PASSWORD = "Session-pass-2026"


def citizen(http: httpx.Client, login: Login, street: str = "NH") -> tuple[str, str]:
    """A person of the street with a login of their own: (username, person id)."""
    username = f"sessions.{secrets.token_hex(4)}"
    created = http.post(
        "/v1/persons",
        headers=login("staff.nh" if street == "NH" else "staff.tyj"),
        json={
            "name": "会话测试",
            "id_number": resident_id("19700101"),
            "org_path": f"CN-LN-SY/HP/{street}",
            "account": {"username": username, "password": PASSWORD},
        },
    )
    assert created.status_code == 201, created.text
    return username, str(created.json()["account_id"])


def bearer(http: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    granted = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers={"User-Agent": "phone-of-" + username},
    )
    assert granted.status_code == 200, granted.text
    assert granted.headers["cache-control"] == "no-store"
    return {"Authorization": f"Bearer {granted.json()['access_token']}"}


def works(http: httpx.Client, headers: dict[str, str]) -> bool:
    answer = http.get("/v1/me", headers=headers)
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def test_a_logged_out_token_stops_at_once(http: httpx.Client, login: Login) -> None:
    username, _account = citizen(http, login)
    phone = bearer(http, username)
    assert works(http, phone)
    assert http.post("/v1/auth/logout", headers=phone).status_code == 204
    assert not works(http, phone)
    assert_problem(http.get("/v1/me/certificates", headers=phone), 401)


def test_log_out_everywhere_else_and_end_one_device(http: httpx.Client, login: Login) -> None:
    username, _account = citizen(http, login)
    laptop, phone, tablet = (bearer(http, username) for _ in range(3))
    listed = http.get("/v1/me/sessions", headers=laptop).json()
    assert len(listed) == 3
    assert [d["current"] for d in listed].count(True) == 1
    assert {d["user_agent"] for d in listed} == {f"phone-of-{username}"}
    assert all(d["address"] == "127.0.0.*" for d in listed)

    # Somebody else cannot end my session, nor see that it exists.
    other, _ = citizen(http, login)
    someone = bearer(http, other)
    mine = next(d["id"] for d in http.get("/v1/me/sessions", headers=tablet).json() if d["current"])
    assert_problem(http.delete(f"/v1/me/sessions/{mine}", headers=someone), 404)
    assert works(http, tablet)

    assert http.delete(f"/v1/me/sessions/{mine}", headers=laptop).status_code == 204
    assert not works(http, tablet)
    ended = http.delete("/v1/me/sessions", headers=laptop)
    assert ended.json() == {"ended": 1}
    assert not works(http, phone)
    assert works(http, laptop)
    assert len(http.get("/v1/me/sessions", headers=laptop).json()) == 1


def test_a_changed_password_ends_the_other_sessions(http: httpx.Client, login: Login) -> None:
    username, _account = citizen(http, login)
    mine, stolen = bearer(http, username), bearer(http, username)
    wrong = http.post(
        "/v1/me/password", headers=stolen, json={"current": "not-the-one", "new": "Whatever-2027"}
    )
    assert assert_problem(wrong, 403)["code"] == "wrong_password"
    changed = http.post(
        "/v1/me/password", headers=mine, json={"current": PASSWORD, "new": "Another-pass-2027"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sessions_ended"] == 1
    assert not works(http, stolen)
    assert works(http, mine)
    refused = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert_problem(refused, 401)
    assert works(http, bearer(http, username, "Another-pass-2027"))


def test_a_disabled_account_stops_at_once_and_only_its_staff_disable_it(
    http: httpx.Client, login: Login
) -> None:
    username, account = citizen(http, login)
    phone = bearer(http, username)
    elsewhere = http.post(f"/v1/accounts/{account}/disable", headers=login("staff.tyj"))
    assert_problem(elsewhere, 404)  # another street's staff: as if it did not exist
    assert works(http, phone)
    own = login("staff.nh")
    me = http.get("/v1/me", headers=own).json()["id"]
    assert assert_problem(http.post(f"/v1/accounts/{me}/disable", headers=own), 403)["code"] == (
        "own_account"
    )
    disabled = http.post(f"/v1/accounts/{account}/disable", headers=own)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    assert not works(http, phone)
    again = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert assert_problem(again, 403)["code"] == "account_disabled"  # the right password only
    wrong = http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": "Not-the-one-1"},
    )
    assert_problem(wrong, 401)  # a wrong one learns nothing
    assert http.post(f"/v1/accounts/{account}/enable", headers=own).status_code == 200
    assert works(http, bearer(http, username))


def test_an_admin_reset_ends_every_session(http: httpx.Client, login: Login) -> None:
    username, account = citizen(http, login)
    phone = bearer(http, username)
    street = http.post(
        f"/v1/accounts/{account}/password", headers=login("staff.nh"), json={"new": "Reset-2027!"}
    )
    assert_problem(street, 403)  # an administrator's act
    reset = http.post(
        f"/v1/accounts/{account}/password", headers=login("admin"), json={"new": "Reset-2027!"}
    )
    assert reset.status_code == 200, reset.text
    assert not works(http, phone)
    assert works(http, bearer(http, username, "Reset-2027!"))
    admin = login("admin")
    me = http.get("/v1/me", headers=admin).json()["id"]
    own = http.post(f"/v1/accounts/{me}/password", headers=admin, json={"new": "Reset-2027!"})
    assert assert_problem(own, 403)["code"] == "own_account"  # with the current one, or not
    assert works(http, admin)


def test_a_disabled_partner_client_stops_at_once(http: httpx.Client, login: Login) -> None:
    admin = login("admin")
    client_id = f"feed-{secrets.token_hex(3)}"
    created = http.post(
        "/v1/partner-clients",
        headers=admin,
        json={"client_id": client_id, "name": "测试数据源", "scopes": ["tasks:read"]},
    )
    assert created.status_code == 201, created.text
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": created.json()["client_secret"],
    }
    token = http.post("/v1/auth/token", data=form).json()["access_token"]
    partner = {"Authorization": f"Bearer {token}"}
    assert works(http, partner)
    assert_problem(
        http.post(f"/v1/partner-clients/{client_id}/disable", headers=login("staff.nh")), 403
    )
    assert http.post(f"/v1/partner-clients/{client_id}/disable", headers=admin).status_code == 200
    assert not works(http, partner)
    assert_problem(http.post("/v1/auth/token", data=form), 401)
    assert http.post(f"/v1/partner-clients/{client_id}/enable", headers=admin).status_code == 200
    assert http.post("/v1/auth/token", data=form).status_code == 200


def test_staff_manage_only_accounts_whose_roles_they_could_grant(
    http: httpx.Client, login: Login
) -> None:
    """A street clerk disables the citizens and terminals of the street, never a supervisor
    of it nor a fellow clerk; the supervisor manages the clerk."""
    admin = login("admin")
    accounts = {}
    for role in ("supervisor", "staff"):
        made = http.post(
            "/v1/accounts",
            headers=admin,
            json={
                "username": f"grant.{role}.{secrets.token_hex(3)}",
                "password": PASSWORD,
                "roles": [role],
                "org_path": "CN-LN-SY/HP/NH",
            },
        )
        assert made.status_code == 201, made.text
        accounts[role] = made.json()["id"]
    clerk = login("staff.nh")
    for target in accounts.values():
        for path in (f"/v1/accounts/{target}/disable", f"/v1/accounts/{target}/enable"):
            refused = http.post(path, headers=clerk)
            assert assert_problem(refused, 403)["code"] == "roles_not_grantable"
    assert http.get(f"/v1/accounts/{accounts['supervisor']}", headers=admin).json()["status"] == (
        "active"
    )
    supervisor = login("supervisor.nh")
    disabled = http.post(f"/v1/accounts/{accounts['staff']}/disable", headers=supervisor)
    assert disabled.status_code == 200, disabled.text
