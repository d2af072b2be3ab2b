"""identity's collections and the indexes they need."""

from services.common import outbox, signing_keys
from services.common.mongo import Index

INDEXES = (
    outbox.INDEX,
    Index("accounts", [("username", 1)], unique=True),
    Index("accounts", [("org_ancestors", 1), ("_id", 1)]),
    Index("accounts", [("subject_id", 1)]),
    Index("org_units", [("ancestors", 1), ("_id", 1)]),
    Index("persons", [("id_number.hash", 1)], unique=True),
    Index("persons", [("org_ancestors", 1), ("_id", 1)]),
    Index("organisations", [("credit_code.hash", 1)], unique=True),
    Index("org_operators", [("account_id", 1)]),
    Index("org_operators", [("subject_id", 1)]),
    signing_keys.index("code_keys"),
    signing_keys.index("card_keys"),
    Index("scans", [("sub", 1), ("at", -1)]),
    Index("scans", [("dedupe_key", 1)], unique=True),
    Index("printed_codes", [("sub", 1), ("status", 1)]),
    Index("delegations", [("principal", 1), ("proxy", 1), ("status", 1)]),
    Index("delegations", [("proxy", 1)]),
    Index("proxy_actions", [("principal", 1), ("at", -1)]),
    Index("proxy_actions", [("proxy", 1), ("at", -1)]),
    Index("notifications", [("state", 1), ("next_at", 1)]),
    Index("disclosures", [("principal", 1), ("at", -1)]),
)
