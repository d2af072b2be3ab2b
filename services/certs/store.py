"""certs' collections and the indexes they need."""

from services.common import outbox, signing_keys
from services.common.mongo import Index

INDEXES = (
    outbox.INDEX,
    Index("certificates", [("number", 1), ("version", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("request_id", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("status_index", 1)], unique=True),
    Index("certificates", [("issuer", 1), ("status", 1)]),
    Index("certificates", [("status", 1), ("valid_until", 1)]),
    Index("certificates", [("subject", 1), ("issued_at", -1)]),
    Index("issuers", [("code", 1)], unique=True),
    Index("disclosures", [("holders", 1), ("at", -1)]),
    Index("disclosures", [("issuer", 1)]),
    Index("presentations", [("holders", 1)]),
    Index("applications", [("applicant", 1), ("submitted_at", -1)]),
    signing_keys.index("wallet_keys"),
)
