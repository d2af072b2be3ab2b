"""An event outlives the worker that caused it: certs is SIGKILLed after issuing a
certificate and before relaying its ``cert_issued``, and policy still learns the
certificate's facts once certs is back (the event waited in certs' outbox, written with the
certificate).

To kill certs in exactly that gap, and not hope to hit it, certs is first restarted to
relay on its timer only, once an hour: it issues, answers and relays nothing. Policy's
knowing nothing of the certificate then shows the event has not left."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx

from tests.conftest import Suite
from tests.e2e.conftest import DEMO_PASSWORD, token_for
from tests.e2e.test_certs import issue_disability
from tests.faults.test_faults import eventually, pids, say
from tests.idnumbers import resident_id


def killed(name: str) -> None:
    for pid in pids(name):
        os.kill(pid, signal.SIGKILL)


def facts_of(http: httpx.Client, staff: dict[str, str], subject: str) -> dict[str, Any]:
    """What policy knows of ``subject`` (nothing, while it has not heard of them)."""
    answer = http.get(f"/v1/subjects/{subject}/facts", headers=staff)
    if answer.status_code == 404:
        return {}
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_policy_learns_a_certificate_whose_issuer_died_before_relaying_it(
    faults_suite: Suite, city: dict[str, Any]
) -> None:
    with httpx.Client(base_url=faults_suite.base_url, timeout=30) as http:
        street = {"Authorization": f"Bearer {token_for(http, 'staff.nh', DEMO_PASSWORD)}"}
        federation = {"Authorization": f"Bearer {token_for(http, 'staff.cl', DEMO_PASSWORD)}"}
        place = "CN-LN-SY/HP/NH"
        body = {"name": "周桂兰", "id_number": resident_id("19520611"), "org_path": place}
        person = http.post("/v1/persons", headers=street, json=body)
        assert person.status_code == 201, person.text
        subject = person.json()["id"]
        known = eventually(lambda: "org_unit" in facts_of(http, street, subject), 30)
        assert known is not None, "policy never learnt of the person"

        killed("certs")
        slow = {"OUTBOX_RELAY_AFTER_WORK": "0", "OUTBOX_RELAY_SECONDS": "3600"}
        faults_suite.env.update(slow)  # issues, answers, relays nothing
        try:
            faults_suite.script("deploy/local/suite.sh", "start")
        finally:
            for name in slow:
                del faults_suite.env[name]
        issued = eventually(
            lambda: (
                issue_disability(
                    http, federation, subject, "肢体", "三级", "outbox-fault-1"
                ).status_code
                == 201
            ),
            30,
        )
        assert issued is not None, "certs did not come back to issue"
        assert "cert_disability_certificate" not in facts_of(http, street, subject)
        say("certificate issued; its event waits in certs' outbox; certs SIGKILLed")
        killed("certs")

        faults_suite.script("deploy/local/suite.sh", "start")
        learnt = eventually(
            lambda: (
                facts_of(http, street, subject).get("cert_disability_certificate", {}).get("value")
                == "valid"
            ),
            60,
        )
        assert learnt is not None, "policy never learnt of the certificate"
        facts = facts_of(http, street, subject)
        assert facts["disability_grade"]["value"] == "三级"
        assert facts["disability_category"]["value"] == "肢体"
        say(f"policy learnt the certificate {learnt:.1f} s after certs came back")
