"""The citizen's certificates (我的证照): cards with their face fields, and showing chosen
fields of chosen certificates (亮证) as a short-lived presentation QR, which the holder can
withdraw."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.cards import LABELS, status_text
from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.citizen import qr_data_url
from services.gateway.pages.messages import explain
from services.gateway.pages.render import page
from services.gateway.pages.visit import Visit, visit

router = APIRouter(prefix="/citizen")
MAX_PICKS = 50


async def cards(here: Visit) -> list[dict[str, Any]]:
    """The wallet as the page draws it: names instead of codes, face fields labelled."""
    wallet = await here.api.get("/v1/me/certificates")
    types = {t["code"]: t for t in await here.api.get("/v1/certificate-types")}
    issuers = {i["id"]: i["name"] for i in await here.api.get("/v1/issuers")}
    drawn = []
    for cert in wallet:
        kind = types.get(cert["type"], {})
        face = kind.get("face_fields") or list(cert["fields"])
        drawn.append(
            {
                "id": cert["id"],
                "subject": cert["subject"],
                "name": (kind.get("names") or {}).get("zh") or cert["type"],
                "issuer": issuers.get(cert["issuer"], cert["issuer"]),
                "number": cert["number"],
                "valid_until": cert.get("valid_until"),
                "status": cert["status"],
                "status_text": status_text(cert),
                "fields": [
                    (name, LABELS.get(name, name), cert["fields"][name])
                    for name in face
                    if name in cert["fields"]
                ],
            }
        )
    return drawn


async def wallet_page(
    request: Request, here: Visit, status_code: int = 200, **said: str | None
) -> Response:
    return page(
        request,
        "citizen_certificates.html",
        "我的证照",
        here.user,
        here.session,
        cards=await cards(here),
        status_code=status_code,
        **said,
    )


@router.get("/certificates", response_class=HTMLResponse)
async def my_certificates(request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = await visit(request, settings)
    withdrawn = "已撤回出示，核验方再扫描将被拒绝。" if done == "withdrawn" else None
    return await wallet_page(request, here, notice=withdrawn)


@router.post("/certificates/show", response_class=HTMLResponse)
async def show(
    request: Request,
    settings: SettingsDep,
    pick: Annotated[list[str] | None, Form(max_length=MAX_PICKS)] = None,
) -> Response:
    here = await visit(request, settings)

    async def again(error: str, status_code: int) -> Response:
        return await wallet_page(request, here, status_code, error=error)

    picked = [p.split(":", 1) for p in (pick or []) if ":" in p]
    if not picked:
        return await again("请至少选择一项要出示的内容", 422)
    certificate_ids = list(dict.fromkeys(c for c, _ in picked))
    fields = list(dict.fromkeys(f for _, f in picked))
    try:
        shown = await here.api.post(
            "/v1/presentations", json={"certificate_ids": certificate_ids, "fields": fields}
        )
    except ApiError as error:
        return await again(explain(error), error.status)
    wallet = {c["id"]: c for c in await cards(here)}
    showing = [
        {
            "name": wallet[c]["name"],
            "fields": [label for name, label, _ in wallet[c]["fields"] if name in fields],
        }
        for c in certificate_ids
        if c in wallet
    ]
    return page(
        request,
        "citizen_presentation.html",
        "出示证照",
        here.user,
        here.session,
        presentation={**shown, "image": qr_data_url(shown["token"])},
        showing=showing,
    )


@router.post("/presentations/{presentation_id}/withdraw")
async def withdraw(
    presentation_id: str,
    request: Request,
    settings: SettingsDep,
) -> Response:
    here = await visit(request, settings)
    await here.api.call("DELETE", f"/v1/presentations/{presentation_id}")
    return RedirectResponse("/citizen/certificates?done=withdrawn", status_code=303)
