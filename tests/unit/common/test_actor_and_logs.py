from __future__ import annotations

import json
import logging

from services.common.actor import Actor, ancestors, within
from services.common.logs import JsonFormatter, request_id_var, scrub


def test_a_path_is_within_its_own_subtree_only() -> None:
    assert within("A/B", "A")
    assert within("A", "A")
    assert not within("A/BC", "A/B")  # a sibling whose code shares a prefix
    assert not within("AB", "A")
    assert ancestors("A/B/C") == ["A", "A/B", "A/B/C"]


def test_actor_survives_the_header() -> None:
    actor = Actor(account_id="acc_1", roles=("staff",), org_path="X/Y", name="王芳")
    assert Actor.from_header(actor.to_header()) == actor
    assert Actor.from_header(None) == Actor()


def test_log_lines_are_json_with_request_id_and_no_clear_id_number() -> None:
    request_id_var.set("req-123")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "lookup %s", ("11010519491231002X",), None
    )
    line = json.loads(JsonFormatter(service="identity").format(record))
    assert line["request_id"] == "req-123"
    assert line["service"] == "identity"
    assert "11010519491231002X" not in line["message"]
    assert line["message"] == "lookup 1101**********002X"


def test_scrub_masks_credit_codes_but_leaves_ordinary_numbers() -> None:
    assert scrub("code 91350100M000100Y43 ok") == "code 9135**********0Y43 ok"
    assert scrub("order 12345 at 2026-11-22") == "order 12345 at 2026-11-22"
