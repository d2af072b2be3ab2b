"""The certificate catalogue (证照目录): each type's fields as a JSON Schema, which of them are
face fields (照面信息), its subject type, default validity and, for a composite licence
(一业一证), the sub-types it bundles. Seeded at start; staff read it, admins extend it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from services.certs.store import CertsStore
from services.common.document import Document
from services.common.errors import InvalidInput, NotFound

DISABILITY_CATEGORIES = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]
DISABILITY_GRADES = ["一级", "二级", "三级", "四级"]
DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


SEED_TYPES: list[dict[str, Any]] = [
    {
        "_id": "resident_id_card",
        "names": {"zh": "居民身份证", "en": "Resident ID card"},
        "subject_type": "person",
        "validity_days": 7300,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "sex": {"enum": ["男", "女"]},
                "ethnicity": TEXT,
                "birth_date": DATE,
                "address": TEXT,
            },
            ["holder_name", "sex", "birth_date", "address"],
        ),
        "face_fields": ["holder_name", "sex", "ethnicity", "birth_date", "address"],
    },
    {
        "_id": "disability_certificate",
        "names": {"zh": "残疾人证", "en": "Disability certificate"},
        "subject_type": "person",
        "validity_days": 3650,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "category": {"enum": DISABILITY_CATEGORIES},
                "grade": {"enum": DISABILITY_GRADES},
                "assessed_on": DATE,
                "assessor": TEXT,
            },
            ["holder_name", "category", "grade"],
        ),
        "face_fields": ["holder_name", "category", "grade"],
        # A person holds one: issuing another while one is valid is refused (amend it instead).
        "once_per_holder": True,
    },
    {
        "_id": "business_licence",
        "names": {"zh": "营业执照", "en": "Business licence"},
        "subject_type": "organisation",
        "validity_days": 36500,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "legal_representative": TEXT,
                "business_scope": {"type": "string", "maxLength": 2000},
                "registered_capital_fen": {"type": "integer", "minimum": 0},
                "address": TEXT,
            },
            ["holder_name", "legal_representative"],
        ),
        "face_fields": ["holder_name", "legal_representative", "business_scope", "address"],
    },
    {
        "_id": "drug_trading_licence",
        "names": {"zh": "药品经营许可证", "en": "Drug-trading licence"},
        "subject_type": "organisation",
        "validity_days": 1825,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "business_mode": {"enum": ["批发", "零售", "零售连锁"]},
                "scope": TEXT,
                "warehouse_address": TEXT,
            },
            ["holder_name", "business_mode", "scope"],
        ),
        "face_fields": ["holder_name", "business_mode", "scope"],
    },
    {
        "_id": "food_trading_licence",
        "names": {"zh": "食品经营许可证", "en": "Food-trading licence"},
        "subject_type": "organisation",
        "validity_days": 1825,
        "schema": _schema(
            {"holder_name": TEXT, "main_business": TEXT, "scope": TEXT},
            ["holder_name", "main_business", "scope"],
        ),
        "face_fields": ["holder_name", "main_business", "scope"],
    },
    {
        "_id": "high_tech_enterprise",
        "names": {"zh": "高新技术企业证书", "en": "High-tech enterprise"},
        "subject_type": "organisation",
        "validity_days": 1095,
        "schema": _schema({"holder_name": TEXT, "field": TEXT}, ["holder_name", "field"]),
        "face_fields": ["holder_name", "field"],
    },
    {
        "_id": "driving_licence",
        "names": {"zh": "机动车驾驶证", "en": "Driving licence"},
        "subject_type": "person",
        "validity_days": 3650,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "vehicle_class": {"enum": ["A1", "A2", "B1", "B2", "C1", "C2"]},
                "first_issued": DATE,
            },
            ["holder_name", "vehicle_class"],
        ),
        "face_fields": ["holder_name", "vehicle_class", "first_issued"],
    },
    {
        "_id": "pharmacy_composite_licence",
        "names": {"zh": "药店行业综合许可证", "en": "Pharmacy composite licence"},
        "subject_type": "organisation",
        "validity_days": 1825,
        "schema": _schema(
            {
                "holder_name": TEXT,
                "parts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            },
            ["holder_name", "parts"],
        ),
        "face_fields": ["holder_name", "parts"],
        "sub_types": ["drug_trading_licence", "food_trading_licence"],
    },
]


def seed(store: CertsStore, _config: Mapping[str, Any]) -> None:
    """A start-up seed (see common.mongo): the catalogue's seeded types, updated in place."""
    for cert_type in SEED_TYPES:
        store.put_cert_type(cert_type)


def view(cert_type: Document) -> dict[str, Any]:
    return {
        "code": cert_type["_id"],
        "names": cert_type["names"],
        "subject_type": cert_type["subject_type"],
        "fields": cert_type["schema"]["properties"],
        "required": cert_type["schema"].get("required", []),
        "face_fields": cert_type["face_fields"],
        "validity_days": cert_type["validity_days"],
        "sub_types": cert_type.get("sub_types", []),
    }


def get_type(store: CertsStore, code: Any) -> Document:
    cert_type = store.load_cert_type(code) if isinstance(code, str) else None
    if cert_type is None:
        raise NotFound("no such certificate type", field="type")
    return cert_type


def list_types(store: CertsStore) -> list[dict[str, Any]]:
    return [view(t) for t in store.cert_types()]


FORMATS = FormatChecker(formats=("date",))


def validate_fields(cert_type: Document, fields: Any) -> dict[str, Any]:
    """Check fields against the type's schema; the first error names its field."""
    if not isinstance(fields, dict):
        raise InvalidInput("an object of fields is required", field="fields")
    # Formats are checked too: a date is a day of the calendar, not four digits and two pairs.
    validator = Draft202012Validator(cert_type["schema"], format_checker=FORMATS)
    errors = sorted(validator.iter_errors(fields), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        if error.validator == "required":
            missing = error.message.split("'")[1]
            raise InvalidInput(f"{missing} is required", field=f"fields.{missing}")
        if error.validator == "additionalProperties":
            raise InvalidInput(error.message, field="fields")
        path = ".".join(str(p) for p in error.path)
        raise InvalidInput(error.message, field=f"fields.{path}" if path else "fields")
    return fields
