"""What a page says when the API refuses: plain Chinese, never a stack trace, naming the
field when the API named one."""

from __future__ import annotations

from typing import Any

from services.gateway.pages.api import ApiError

BY_CODE = {
    "replayed": "此码已被使用过，可能是截图或转发的码，请让对方出示实时刷新的码",
    "expired": "码已过期，请让对方刷新后重新出示",
    "forged": "码无效：签名校验不通过，可能是伪造的码",
    "frozen": "该码已冻结，不能使用",
    "revoked": "该证照或亮证已被注销或撤回",
    "suspended": "该证照已暂停使用",
    "not_yet_valid": "该证照尚未到生效日期",
    "invalid": "该综合许可证所含的许可不全有效，已失效",
    "superseded": "该证照已变更为新版本，请出示新版本",
    "wrong_audience": "此亮证码不是出示给本核验点的",
    "scene_not_allowed": "本核验点没有核验此场景的权限",
    "account_disabled": "您的账户已停用，请联系为您开户的窗口恢复使用",
    "run_in_progress": "这项政策的兑现正在进行中，请稍后刷新页面查看结果，不要重复发起",
}
BY_STATUS = {
    400: "请求有误，请检查后重试",
    401: "登录已过期或尚未登录，请重新登录",
    403: "您没有执行此操作的权限",
    404: "没有找到要查看的内容，或您无权查看",
    409: "状态已经改变，请刷新页面后再试",
    413: "上传的内容太大",
    422: "填写的内容有误，请检查后重试",
    423: "账户已被临时锁定，请稍后再试",
    429: "操作太频繁，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
    504: "服务响应超时，请稍后再试",
}
FIELDS = {
    "username": "用户名",
    "password": "密码",
    "token": "码内容",
    "scene": "核验场景",
    "image": "图片",
    "fields": "出示项目",
    "certificate_ids": "证照",
    "reason": "原因",
    "period": "发放期间",
}


def frozen_words(problem: dict[str, Any]) -> str:
    """Why a person's code is frozen and where to go, as the person is told it."""
    found = problem.get("frozen")
    frozen: dict[str, Any] = found if isinstance(found, dict) else {}
    if frozen.get("by") == "staff":
        office = frozen.get("office") or "办理冻结的窗口"
        reason = frozen.get("reason")
        why = f"，原因：{reason}" if reason else ""
        return f"您的码已被{office}冻结{why}。请携带身份证件到{office}办理解冻。"
    return "您已自行冻结了您的码。找回手机后，重新登录即可在“我的码”页解冻。"


def explain(error: ApiError) -> str:
    if error.code == "frozen" and error.problem.get("frozen"):
        return frozen_words(error.problem)
    message = BY_CODE.get(error.code) or BY_STATUS.get(error.status) or "操作未能完成，请稍后再试"
    if error.status == 429 and error.retry_after:
        message = f"操作太频繁，请在 {error.retry_after} 秒后再试"
    if error.field and error.field in FIELDS and error.status in (400, 404, 409, 422):
        message += f"（{FIELDS[error.field]}）"
    return message


def in_words(value: Any, missing: str = "") -> str:
    """A fact or field value as a page says it: 是 / 否, lists joined with 、."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)
