"""identity's collections and the indexes they need."""

from services.common.mongo import Index

INDEXES = (
    Index("accounts", [("username", 1)], unique=True),
    Index("accounts", [("org_ancestors", 1), ("_id", 1)]),
    Index("accounts", [("subject_id", 1)]),
    Index("org_units", [("ancestors", 1), ("_id", 1)]),
)
