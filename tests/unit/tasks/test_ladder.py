"""Which escalation rule a task gets: Guangxi's matrix keys on time-limit type, urgency,
handling type and handling role."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidInput
from services.tasks import ladder

STEPS = [{"card": "yellow", "fraction": 1.0}]
ASSISTING = ladder.validate_rule("assist", {"handling_role": "assist"}, STEPS)
HOURS = ladder.validate_rule("hours", {"limit_type": "working_hours", "level": "urgent"}, STEPS)


def task(**fields: object) -> dict[str, object]:
    return {"dispatcher": "C/HP", "level": "normal", "limit": {"working_days": 3}, **fields}


def test_a_rule_keys_on_the_handling_role_and_the_time_limit_type() -> None:
    rules = [ASSISTING, HOURS]
    assert ladder.choose(rules, task(handling_role="assist"))["_id"] == "assist"
    assert ladder.choose(rules, task())["_id"] == "default"  # a lone unit leads
    urgent = task(level="urgent", limit={"working_hours": 4})
    assert ladder.choose(rules, urgent)["_id"] == "hours"
    assert ladder.choose(rules, task(level="urgent"))["_id"] == "default"  # days, not hours


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ({"handling_role": "boss"}, "match.handling_role"),
        ({"limit_type": "soon"}, "match.limit_type"),
    ],
)
def test_a_rule_names_only_values_a_task_can_have(match: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        ladder.validate_rule("bad", match, STEPS)
    assert refused.value.field == field
