"""tasks's collections and the indexes they need."""

from services.common.mongo import Index

INDEXES: tuple[Index, ...] = ()
