"""Staff registers (登记与发证): register people (with a citizen login if they want one) and
organisations in their jurisdiction; issue certificates from a type's fields, and suspend or
revoke (注销) a subject's certificates with a reason."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.gateway.cards import LABELS, status_text
from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.policies import proposed_value
from services.gateway.pages.render import page
from services.gateway.pages.tasks import unit_names
from services.gateway.pages.verifier import CONCESSIONS
from services.gateway.pages.visit import STAFF, Visit, visit

router = APIRouter(prefix="/staff")
ONLY_STAFF = "只有工作人员可以登记和签发"


async def _people_page(
    request: Request, here: Visit, status_code: int = 200, **shown: Any
) -> Response:
    listed = await here.api.get("/v1/persons", params={"limit": 50})
    return page(
        request,
        "staff_people.html",
        "人员与企业登记",
        here.user,
        here.session,
        persons=listed.get("items", listed) if isinstance(listed, dict) else listed,
        units=await unit_names(here),
        concessions=CONCESSIONS,
        status_code=status_code,
        **shown,
    )


@router.get("/people", response_class=HTMLResponse)
async def people(request: Request, settings: SettingsDep) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    return await _people_page(request, here)


@router.post("/people", response_class=HTMLResponse)
async def register_person(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    org_path: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    concession: Annotated[str, Form(max_length=20)] = "none",
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    body: dict[str, Any] = {
        "name": name.strip(),
        "id_number": id_number.strip(),
        "org_path": org_path,
        "phone": phone.strip() or None,
        "concession": concession,
    }
    if username.strip():
        body["account"] = {"username": username.strip(), "password": password}
    try:
        person = await here.api.post("/v1/persons", json=body)
    except ApiError as error:
        return await _people_page(request, here, error.status, error=explain(error))
    notice = f"已登记 {person['name']}（{person['id_number_masked']}）。"
    return await _people_page(request, here, notice=notice)


@router.post("/organisations", response_class=HTMLResponse)
async def register_organisation(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)] = "",
    credit_code: Annotated[str, Form(max_length=32)] = "",
    org_path: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    body = {"name": name.strip(), "credit_code": credit_code.strip(), "org_path": org_path}
    try:
        org = await here.api.post("/v1/organisations", json=body)
    except ApiError as error:
        return await _people_page(request, here, error.status, error=explain(error))
    notice = f"已登记 {org['name']}（{org['credit_code_masked']}）。"
    return await _people_page(request, here, notice=notice)


async def _certificates_page(
    request: Request,
    here: Visit,
    type_code: str = "",
    subject: str = "",
    status_code: int = 200,
    **shown: Any,
) -> Response:
    types = {t["code"]: t for t in await here.api.get("/v1/certificate-types")}
    issuers = await here.api.get("/v1/issuers")
    chosen = types.get(type_code)
    held: list[dict[str, Any]] = []
    if subject:
        try:
            held = await here.api.get("/v1/certificates/by-subject", params={"subject": subject})
        except ApiError as error:
            shown.setdefault("error", explain(error))
    return page(
        request,
        "staff_certificates.html",
        "证照签发",
        here.user,
        here.session,
        types={c: t["names"]["zh"] for c, t in types.items()},
        # One id per form shown: submitting it twice (a double click, a retry) issues once.
        request_id="page-" + secrets.token_hex(8),
        chosen=chosen,
        field_labels=LABELS,
        issuers=[i for i in issuers if not chosen or chosen["code"] in i["types"]],
        subject=subject,
        held=[
            {
                **c,
                "type_name": types.get(c["type"], {}).get("names", {}).get("zh", c["type"]),
                "status_text": status_text(c),
            }
            for c in held
        ],
        status_code=status_code,
        **shown,
    )


@router.get("/certificates", response_class=HTMLResponse)
async def certificates(
    request: Request, settings: SettingsDep, type: str = "", subject: str = ""
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    return await _certificates_page(request, here, type, subject)


@router.post("/certificates", response_class=HTMLResponse)
async def issue(request: Request, settings: SettingsDep) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    type_code, subject = form.get("type", ""), form.get("subject", "").strip()
    fields = {
        name[len("field_") :]: proposed_value(value)
        for name, value in form.items()
        if name.startswith("field_") and value.strip()
    }
    body = {
        "issuer": form.get("issuer"),
        "type": type_code,
        "subject": subject,
        "fields": fields,
        "request_id": form.get("request_id") or "page-" + secrets.token_hex(8),
    }
    try:
        issued = await here.api.post("/v1/certificates", json=body)
    except ApiError as error:
        where = f"（{error.field}）" if error.field else ""
        return await _certificates_page(
            request, here, type_code, subject, error.status, error=explain(error) + where
        )
    return await _certificates_page(
        request, here, type_code, subject, notice=f"已签发，证号 {issued['number']}。"
    )


@router.post("/certificates/{certificate_id}/{action}", response_class=HTMLResponse)
async def change(
    certificate_id: str,
    action: str,
    request: Request,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    subject: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    if action not in ("suspend", "resume", "revoke"):
        return await _certificates_page(request, here, "", subject, 404, error="不支持的操作")
    try:
        await here.api.post(
            f"/v1/certificates/{certificate_id}/{action}", json={"reason": reason.strip()}
        )
    except ApiError as error:
        return await _certificates_page(
            request, here, "", subject, error.status, error=explain(error)
        )
    done = {"suspend": "已暂停", "resume": "已恢复", "revoke": "已注销"}[action]
    return await _certificates_page(request, here, "", subject, notice=f"证照{done}。")
