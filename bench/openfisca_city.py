"""The bench's policies written as an OpenFisca tax-benefit system, for comparison with our
engine on the same rules and data (``bench/policy.py`` runs this in its own venv,
``.venv-bench``, with openfisca-core; the services never import it).

Each policy becomes two OpenFisca variables over the ``person`` entity, by month:
``eligible_<code>`` (its conditions: ``all`` → ``*``, ``any`` → ``+``, ``not`` → ``not_``, each
check a numpy comparison of an input variable) and ``amount_<code>`` (fixed, rate × fact
with a cap, or brackets; paid only where eligible). Dated thresholds are OpenFisca parameters
(``<code>.<name>`` with their dated values). Facts are input variables ``f00`` … ``f19``.
OpenFisca has no *unknown*: the bench's facts are all known, so both engines must agree.

    .venv-bench/bin/python bench/openfisca_city.py POLICIES.json FACTS.npz PERIOD
prints {"batch_s", "eligible": {code: n}, "totals": {code: fen}, "incremental_ms": …}.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from openfisca_core.entities import build_entity
from openfisca_core.model_api import not_
from openfisca_core.parameters import ParameterNode
from openfisca_core.periods import DateUnit
from openfisca_core.simulations import SimulationBuilder
from openfisca_core.taxbenefitsystems import TaxBenefitSystem
from openfisca_core.variables import Variable

Person = build_entity(key="person", plural="persons", label="A citizen", is_person=True)
COMPARE = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _variable(name: str, value_type: type, formula: Any = None) -> type[Variable]:
    attributes: dict[str, Any] = {
        "value_type": value_type,
        "entity": Person,
        "definition_period": DateUnit.MONTH,
        "label": name,
    }
    if formula is not None:
        attributes["formula"] = formula
    return type(name, (Variable,), attributes)


def condition(node: dict[str, Any], code: str) -> Any:
    """A function (person, period, parameters) → bool array for a condition node."""
    if "all" in node or "any" in node:
        parts = [condition(p, code) for p in node.get("all") or node["any"]]
        if "all" in node:
            return lambda person, period, parameters: np.logical_and.reduce(
                [p(person, period, parameters) for p in parts]
            )
        return lambda person, period, parameters: np.logical_or.reduce(
            [p(person, period, parameters) for p in parts]
        )
    if "not" in node:
        inner = condition(node["not"], code)
        return lambda person, period, parameters: not_(inner(person, period, parameters))
    fact, op = node["fact"], node["op"]
    if "param" in node:
        name = node["param"]

        def required(period: Any, parameters: Any) -> Any:
            return parameters(period.start)[code][name]

    else:
        value = node["value"]

        def required(period: Any, parameters: Any) -> Any:
            return value

    if op in ("in", "not_in"):
        return lambda person, period, parameters: (
            (op == "in") == np.isin(person(fact, period), required(period, parameters))
        )
    compare = COMPARE[op]
    return lambda person, period, parameters: compare(
        person(fact, period), required(period, parameters)
    )


def amount(node: dict[str, Any]) -> Any:
    """A function (person, period) → fen array (rates are exact in binary: 0.25, 0.5 …)."""
    if "fixed" in node:
        fixed = node["fixed"]
        return lambda person, period: np.full(person.count, fixed, dtype=np.int64)
    if "rate" in node:
        rate, of, cap = node["rate"], node["of"], node.get("cap")

        def rated(person: Any, period: Any) -> Any:
            value = np.floor(rate * person(of, period).astype(np.float64) + 0.5)
            return (value if cap is None else np.minimum(value, cap)).astype(np.int64)

        return rated
    steps, of = node["brackets"]["steps"], node["brackets"]["of"]

    def bracketed(person: Any, period: Any) -> Any:
        base = person(of, period)
        return np.select(
            [base >= s["from"] for s in reversed(steps)],
            [s["amount"] for s in reversed(steps)],
            0,
        ).astype(np.int64)

    return bracketed


def system(policies: list[dict[str, Any]], facts: list[str]) -> TaxBenefitSystem:
    tbs = TaxBenefitSystem([Person])
    tbs.parameters = ParameterNode(
        "",
        data={
            p["code"]: {
                name: {"values": {v["from"]: v["value"] for v in dated}}
                for name, dated in p["parameters"].items()
            }
            for p in policies
            if p["parameters"]
        }
        or {"none": {"values": {"2000-01-01": 0}}},
    )
    for fact in facts:
        tbs.add_variable(_variable(fact, int))
    for policy in policies:
        code = policy["code"]
        test = condition(policy["conditions"], code)
        pays = amount(policy["amount"])

        def eligible(person: Any, period: Any, parameters: Any, test: Any = test) -> Any:
            return test(person, period, parameters)

        def paid(person: Any, period: Any, parameters: Any, pays: Any = pays, code: str = code):
            return person(f"eligible_{code}", period) * pays(person, period)

        tbs.add_variable(_variable(f"eligible_{code}", bool, eligible))
        tbs.add_variable(_variable(f"amount_{code}", int, paid))
    return tbs


def simulation(tbs: TaxBenefitSystem, columns: dict[str, Any], period: str) -> Any:
    size = len(next(iter(columns.values())))
    sim = SimulationBuilder().build_default_simulation(tbs, size)
    for fact, values in columns.items():
        sim.set_input(fact, period, values)
    return sim


def main() -> None:
    policies = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    data = np.load(sys.argv[2])
    period = sys.argv[3]
    facts = sorted(data.files)
    tbs = system(policies, facts)
    columns = {f: data[f] for f in facts}

    started = time.perf_counter()
    sim = simulation(tbs, columns, period)
    eligible, totals = {}, {}
    for policy in policies:
        code = policy["code"]
        eligible[code] = int(sim.calculate(f"eligible_{code}", period).sum())
        totals[code] = int(sim.calculate(f"amount_{code}", period).astype(np.int64).sum())
    batch_s = time.perf_counter() - started

    # One subject's fact changes: a simulation of that subject alone, every policy reading
    # the fact computed again (OpenFisca keeps no per-subject results to update).
    rng = np.random.default_rng(7)
    timings = []
    for k in range(200):
        fact = facts[k % len(facts)]
        row = {f: np.array([int(rng.integers(0, 101))]) for f in facts}
        reading = [p["code"] for p in policies if fact in p["reads"]]
        started = time.perf_counter()
        one = simulation(tbs, row, period)
        for code in reading:
            one.calculate(f"eligible_{code}", period)
            one.calculate(f"amount_{code}", period)
        timings.append((time.perf_counter() - started) * 1000)
    print(
        json.dumps(
            {
                "batch_s": round(batch_s, 2),
                "eligible": eligible,
                "totals": totals,
                "incremental_p50_ms": round(statistics.median(timings), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
