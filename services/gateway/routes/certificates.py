"""E-certificates (电子证照): the catalogue, issuers and their seals, issuing and revoking,
the holder's wallet, the public authenticity check and status lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import cards
from services.gateway.access import operation
from services.gateway.deps import (
    AnonymousBus,
    BusDep,
    CurrentActor,
    SettingsDep,
)
from services.gateway.ratelimit import limit_public, limit_verifier

router = APIRouter(tags=["certificates"])
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}


class IssuerCreate(BaseModel):
    code: str = Field(min_length=2, max_length=16)
    name: str = Field(min_length=1, max_length=100)
    org_path: str = Field(max_length=200)
    types: list[str] = Field(min_length=1, max_length=50)


class CertificateIssue(BaseModel):
    issuer: str = Field(max_length=64)
    type: str = Field(max_length=64)
    subject: str = Field(max_length=64, description="the holder's pseudonymous id (p_… / o_…)")
    fields: dict[str, Any]
    request_id: str = Field(min_length=1, max_length=64, description="idempotency per issuer")
    valid_from: str | None = Field(default=None, max_length=10)
    valid_until: str | None = Field(default=None, max_length=10)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.get(
    "/v1/certificate-types",
    summary="The certificate catalogue (证照目录)",
    openapi_extra=operation("certs.list_types"),
)
async def list_types(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "list_types")


@router.post(
    "/v1/issuers",
    status_code=201,
    summary="Register an issuing department (admin)",
    openapi_extra=operation("certs.create_issuer"),
)
async def create_issuer(body: IssuerCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "create_issuer", **body.model_dump())


@router.get(
    "/v1/issuers",
    summary="Issuers and their key ids (public)",
    openapi_extra=operation("certs.list_issuers"),
)
async def list_issuers(bus: AnonymousBus) -> Any:
    return await bus.call("certs", "list_issuers")


@router.get(
    "/.well-known/cert-keys.json",
    summary="Issuers' public keys (seals), for verifiers",
    openapi_extra=operation("certs.issuer_keys"),
)
async def cert_keys(bus: AnonymousBus) -> JSONResponse:
    return JSONResponse(await bus.call("certs", "issuer_keys"), headers=PUBLIC_CACHE)


@router.get(
    "/v1/issuers/{issuer_id}/status-list",
    summary="The issuer's signed status list",
    openapi_extra=operation("certs.status_list"),
)
async def status_list(issuer_id: str, bus: AnonymousBus) -> JSONResponse:
    listed = await bus.call("certs", "status_list", issuer_id=issuer_id)
    return JSONResponse(listed, headers=PUBLIC_CACHE)


@router.post(
    "/v1/certificates",
    status_code=201,
    summary="Issue a certificate (issuer staff)",
    openapi_extra=operation("certs.issue_certificate"),
)
async def issue_certificate(body: CertificateIssue, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "issue_certificate", **body.model_dump(exclude_none=True))


class Amendment(BaseModel):
    fields: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(min_length=1, max_length=500)
    valid_until: str | None = Field(
        default=None, max_length=10, description="A new last day (renewal), YYYY-MM-DD"
    )


@router.post(
    "/v1/certificates/{certificate_id}/amend",
    status_code=201,
    summary="Amend (变更): a new version; the old one is kept as superseded",
    openapi_extra=operation("certs.amend_certificate"),
)
async def amend_certificate(
    certificate_id: str, body: Amendment, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "certs",
        "amend_certificate",
        certificate_id=certificate_id,
        **body.model_dump(exclude_none=True),
    )


@router.get(
    "/v1/certificates/by-subject",
    summary="A subject's certificates (staff)",
    openapi_extra=operation("certs.certificates_of"),
)
async def certificates_of(subject: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "certificates_of", subject=subject)


@router.get(
    "/v1/certificates/{certificate_id}/versions",
    summary="Every version, oldest first",
    openapi_extra=operation("certs.certificate_versions"),
)
async def certificate_versions(certificate_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "certificate_versions", certificate_id=certificate_id)


@router.post(
    "/v1/certificates/{certificate_id}/{action}",
    summary="Suspend, resume or revoke (注销) a certificate, with a reason",
    openapi_extra=operation("certs.change_status"),
)
async def change_status(
    certificate_id: str,
    action: Literal["suspend", "resume", "revoke"],
    body: Reason,
    _actor: CurrentActor,
    bus: BusDep,
) -> Any:
    return await bus.call(
        "certs", "change_status", certificate_id=certificate_id, action=action, reason=body.reason
    )


@router.get(
    "/v1/me/certificates",
    summary="My wallet, with my enterprises' licences",
    openapi_extra=operation("certs.my_certificates"),
)
async def my_certificates(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "my_certificates")


@router.get(
    "/v1/certificates/{number}/verify",
    summary="Is this certificate authentic and current? (public; with the card's check code, "
    "also its face fields)",
    openapi_extra=operation("certs.public_check"),
)
async def public_check(
    number: str,
    bus: AnonymousBus,
    _limit: Annotated[None, Depends(limit_public)],
    code: Annotated[
        str | None,
        Query(max_length=16, description="the check code printed on the card (验证码)"),
    ] = None,
) -> Any:
    return await bus.call("certs", "public_check", number=number, code=code)


class PresentationCreate(BaseModel):
    certificate_ids: list[str] = Field(min_length=1, max_length=10)
    fields: list[str] = Field(min_length=1, max_length=50, description="the fields to reveal")
    audience: str | None = Field(default=None, max_length=64, description="a verifier's account id")
    ttl_seconds: int | None = Field(default=None, ge=10, le=600)


class PresentationVerify(BaseModel):
    token: str = Field(min_length=1, max_length=16_384)
    purpose: str | None = Field(default=None, max_length=64, description="the scene, e.g. hotel")


@router.post(
    "/v1/presentations",
    status_code=201,
    summary="Show chosen fields of my certificates (亮证): a short-lived token",
    openapi_extra=operation("certs.create_presentation"),
)
async def create_presentation(
    body: PresentationCreate, _actor: CurrentActor, bus: BusDep, response: Response
) -> Any:
    response.headers["Cache-Control"] = "no-store"  # the token shows the holder's fields
    return await bus.call("certs", "create_presentation", **body.model_dump())


@router.delete(
    "/v1/presentations/{presentation_id}",
    summary="Withdraw a presentation",
    openapi_extra=operation("certs.revoke_presentation"),
)
async def revoke_presentation(presentation_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "revoke_presentation", presentation_id=presentation_id)


@router.post(
    "/v1/presentations/verify",
    summary="Verify a presentation (verifiers); recorded",
    openapi_extra=operation("certs.verify_presentation"),
)
async def verify_presentation(
    body: PresentationVerify,
    _actor: CurrentActor,
    bus: BusDep,
    _limit: Annotated[None, Depends(limit_verifier)],
) -> Any:
    return await bus.call("certs", "verify_presentation", **body.model_dump())


@router.get(
    "/v1/me/disclosures",
    summary="Who saw which of my certificate fields (授权记录)",
    openapi_extra=operation("certs.my_disclosures"),
)
async def my_disclosures(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "my_disclosures")


@router.get(
    "/v1/issuers/{issuer_id}/disclosure-stats",
    summary="Disclosures per verifier and type",
    openapi_extra=operation("certs.disclosure_stats"),
)
async def disclosure_stats(issuer_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "disclosure_stats", issuer_id=issuer_id)


class Application(BaseModel):
    note: str | None = Field(default=None, max_length=1000)


class Review(BaseModel):
    approve: bool
    reason: str | None = Field(default=None, max_length=500)


class Assessment(BaseModel):
    """The doctor's assessment; the doctor is the signed-in assessor account (a name sent
    here is refused, never written on a certificate)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(max_length=64)
    category: str = Field(max_length=8)
    grade: str = Field(max_length=8)


@router.post(
    "/v1/applications",
    status_code=201,
    summary="Apply for a disability certificate (or for the person in X-On-Behalf-Of)",
    openapi_extra=operation("certs.apply_for_certificate"),
)
async def apply(body: Application, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "apply_for_certificate", note=body.note)


@router.get(
    "/v1/applications",
    summary="The work queue: applications of one's area or issuing department, oldest first",
    openapi_extra=operation("certs.list_applications"),
)
async def list_applications(
    _actor: CurrentActor,
    bus: BusDep,
    status: Literal["submitted", "reviewed", "rejected", "assessed", "issued"] | None = None,
) -> Any:
    return await bus.call("certs", "list_applications", status=status)


@router.post(
    "/v1/persons/{person_id}/applications",
    status_code=201,
    summary="File an application for a resident of one's area (后台录入, at the counter)",
    openapi_extra=operation("certs.file_application"),
)
async def file_application(
    person_id: str, body: Application, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call("certs", "file_application", subject=person_id, note=body.note)


@router.get(
    "/v1/me/applications",
    summary="My applications and every step taken",
    openapi_extra=operation("certs.my_applications"),
)
async def my_applications(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "my_applications")


@router.get(
    "/v1/applications/{application_id}",
    summary="One application",
    openapi_extra=operation("certs.get_application"),
)
async def get_application(application_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "get_application", application_id=application_id)


@router.post(
    "/v1/applications/{application_id}/review",
    summary="Staff of the area review",
    openapi_extra=operation("certs.review_application"),
)
async def review_application(
    application_id: str, body: Review, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "certs", "review_application", application_id=application_id, **body.model_dump()
    )


@router.post(
    "/v1/applications/{application_id}/assessment",
    summary="Sign the doctor's assessment (an assessor account of the issuing department)",
    openapi_extra=operation("certs.assess_application"),
)
async def assess_application(
    application_id: str, body: Assessment, _actor: CurrentActor, bus: BusDep
) -> Any:
    return await bus.call(
        "certs", "assess_application", application_id=application_id, **body.model_dump()
    )


@router.post(
    "/v1/applications/{application_id}/issue",
    summary="Issue the certificate",
    openapi_extra=operation("certs.issue_from_application"),
)
async def issue_from_application(application_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("certs", "issue_from_application", application_id=application_id)


CARD_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


@router.get(
    "/v1/me/certificates/{certificate_id}/card.{kind}",
    response_class=Response,
    summary="A wallet certificate as a card: png, svg or pdf (for print)",
    responses={200: {"content": {t: {} for t in CARD_TYPES.values()}}},
    openapi_extra=operation("certs.my_certificate_card"),
)
async def certificate_card(
    certificate_id: str,
    kind: Literal["png", "svg", "pdf"],
    request: Request,
    _actor: CurrentActor,
    bus: BusDep,
    settings: SettingsDep,
) -> Response:
    card = await bus.call("certs", "my_certificate_card", certificate_id=certificate_id)
    base = settings.PUBLIC_URL or str(request.base_url).rstrip("/")
    verify_url = f"{base}/v1/certificates/{card['number']}/verify?code={card['check_code']}"
    render = {"png": cards.png, "svg": cards.svg, "pdf": cards.pdf}[kind]
    return Response(
        render(card, verify_url), media_type=CARD_TYPES[kind], headers={"Cache-Control": "no-store"}
    )
