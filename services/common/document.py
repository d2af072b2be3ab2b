"""What the services pass around as a stored record: a document, a plain ``dict`` from
names to values. Its own module so that domain code names it without naming the database
(the store modules and :mod:`services.common.mongo` are where the database is)."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]
