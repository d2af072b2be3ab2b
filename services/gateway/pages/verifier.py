"""The verifier's page (核验), for a counter or a gate: the code or the presentation comes as
a photo (the phone's camera where the browser offers it), an uploaded or pasted image, or
the pasted text; the result card shows exactly what the scene may see, in large type, with a
green or red verdict, and the reason when red."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from services.common.crypto import b64url_decode
from services.gateway import qr
from services.gateway.cards import LABELS as CERT_LABELS
from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain, in_words
from services.gateway.pages.render import page
from services.gateway.pages.visit import Visit, visit

router = APIRouter()
VERIFIERS = ("verifier", "staff", "supervisor", "admin")
NOT_A_VERIFIER = "您的账户不是核验账户，不能使用扫码核验"
MAX_IMAGE = 1_000_000
SCENES = {
    "metro": "地铁",
    "bus": "公交",
    "scenic_spot": "景区",
    "library": "图书馆",
    "hotel": "酒店入住",
    "gov_counter": "政务窗口",
    "hospital": "医院就诊",
}
CODE_FIELDS = {
    "name": "姓名",
    "id_number_masked": "证件号码",
    "phone": "手机号码",
    "concession": "优待类型",
    "medical_insurance": "医保参保",
    "credit_code_masked": "统一社会信用代码",
}
CONCESSIONS = {
    "none": "无",
    "elderly": "老年人",
    "disabled": "残疾人",
    "student": "学生",
    "veteran": "退役军人",
}


def _shown(name: str, value: Any) -> str:
    if name == "concession":
        return CONCESSIONS.get(str(value), str(value))
    return in_words(value)


def is_presentation(token: str) -> bool:
    """Which check the text asks for (the API verifies it; this only routes it)."""
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
    except (IndexError, ValueError):
        return False
    return isinstance(claims, dict) and "items" in claims


def code_card(result: dict[str, Any]) -> dict[str, Any]:
    fields = result.get("fields") or {}
    kind = "个人" if result.get("subject_type") == "person" else "企业"
    rows = [(CODE_FIELDS.get(k, k), _shown(k, v)) for k, v in fields.items() if k != "valid"]
    return {"ok": True, "kind": f"{kind}码", "rows": rows, "certificates": []}


def presentation_card(result: dict[str, Any]) -> dict[str, Any]:
    certificates = [
        {
            "name": (c.get("type") or {}).get("name") or (c.get("type") or {}).get("code"),
            "issuer": (c.get("issuer") or {}).get("name"),
            "number": c.get("number"),
            "valid_until": c.get("valid_until"),
            "rows": [(CERT_LABELS.get(k, k), _shown(k, v)) for k, v in c["fields"].items()],
        }
        for c in result.get("certificates", [])
    ]
    return {"ok": True, "kind": "亮证", "rows": [], "certificates": certificates}


async def check(here: Visit, token: str, scene: str) -> dict[str, Any]:
    try:
        if is_presentation(token):
            body = {"token": token, "purpose": scene}
            return presentation_card(await here.api.post("/v1/presentations/verify", json=body))
        body = {"token": token, "scene": scene}
        return code_card(await here.api.post("/v1/codes/verify", json=body))
    except ApiError as error:
        return {"ok": False, "reason": explain(error)}


def _scenes(here: Visit) -> list[tuple[str, str]]:
    return [(s, SCENES.get(s, s)) for s in here.user.get("scenes") or []]


@router.get("/verify", response_class=HTMLResponse)
async def verify_form(request: Request, settings: SettingsDep) -> Response:
    here = (await visit(request, settings)).require(NOT_A_VERIFIER, *VERIFIERS)
    return page(request, "verify.html", "扫码核验", here.user, here.session, scenes=_scenes(here))


@router.post("/verify", response_class=HTMLResponse)
async def verify(
    request: Request,
    settings: SettingsDep,
    scene: Annotated[str, Form(max_length=32)] = "",
    token: Annotated[str, Form(max_length=16_384)] = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    here = (await visit(request, settings)).require(NOT_A_VERIFIER, *VERIFIERS)
    scenes = _scenes(here)

    def answer(result: dict[str, Any], status_code: int = 200) -> Response:
        return page(
            request,
            "verify.html",
            "扫码核验",
            here.user,
            here.session,
            scenes=scenes,
            chosen=scene,
            result=result,
            status_code=status_code,
        )

    if scene not in dict(scenes):
        return answer({"ok": False, "reason": "请选择本核验点的场景"}, 422)
    text = token.strip()
    if image is not None and image.filename:
        data = await image.read(MAX_IMAGE + 1)
        if len(data) > MAX_IMAGE:
            return answer({"ok": False, "reason": "图片太大，请拍摄或选择小于 1 MB 的图片"}, 413)
        try:
            text = await run_in_threadpool(qr.read, data)
        except qr.SeveralCodes:
            return answer({"ok": False, "reason": "图片中有不止一个二维码，请只对准一个重拍"}, 422)
        except qr.Unreadable:
            return answer({"ok": False, "reason": "图片中没有识别到二维码，请对准后重拍"}, 422)
    if not text:
        return answer({"ok": False, "reason": "请拍摄、上传二维码图片，或粘贴码内容"}, 422)
    return answer(await check(here, text, scene))
