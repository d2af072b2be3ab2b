"""policy's collections and the indexes they need (MongoDB uses them; FerretDB scans for
anything but ``_id``, see the README)."""

from services.common import outbox
from services.common.mongo import Index

INDEXES = (
    outbox.INDEX,
    Index("policies", [("code", 1), ("version", 1)], unique=True),
    Index("policies", [("status", 1)]),
    Index("facts", [("kind", 1), ("org_path", 1)]),
    Index("matches", [("policy", 1), ("eligible", 1), ("org_path", 1)]),
    Index("inbox", [("subject", 1), ("at", -1)]),
)
