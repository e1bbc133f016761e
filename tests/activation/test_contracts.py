"""Every request each destination sends must satisfy the provider's published contract.

Stoplight Prism serves each contract in contracts/ as a validating mock on loopback (one
process per provider, started once per session). Prism answers a request that breaks the
contract with a 4xx (its own 422 with a `validation` list, or the operation's 400/4XX
with the reasons in the `sl-violations` header), so the tests record every response the
destinations receive and require 2xx without `sl-violations`, and that each operation the
destination implements was exercised.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from activation.destinations.base import Job, Message, Record
from activation.engine import build_destinations, run_syncs
from tests.activation.conftest import NOW, create_members, create_plan, make_config

PROJECT = Path(__file__).resolve().parents[2]
CONTRACTS = Path(__file__).parent / "contracts"
PRISM = PROJECT / "node_modules" / ".bin" / "prism"
CONTRACT_FILES = {
    "klaviyo": "klaviyo-activation.json",
    "sendgrid": "sendgrid-activation.json",
    "twilio": "twilio-messages.json",
    "whatsapp_cloud": "whatsapp-messages.json",
    "onesignal": "onesignal-activation.json",
    "fcm": "fcm-send.json",
}
# Contract examples that the SendGrid mock answers a contact search with.
SENDGRID_EXAMPLE_EMAILS = ("jane_doe@example.com", "john_doe@example.com")
SENDGRID_LIST = "ca7a3796-e8a8-4029-9ccb-df8937940562"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prism for {name} exited: {process.stdout.read().decode()[-1000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Prism for {name} did not listen on {port} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def prism() -> dict[str, str]:
    if not PRISM.exists() or shutil.which("node") is None:
        pytest.fail("Stoplight Prism is not installed: run `npm ci` in the project (make test does)")
    processes, urls = [], {}
    try:
        for name, contract in CONTRACT_FILES.items():
            port = _free_port()
            processes.append(
                (
                    name,
                    port,
                    subprocess.Popen(
                        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(CONTRACTS / contract)],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                    ),
                )
            )
            urls[name] = f"http://127.0.0.1:{port}"
        for name, port, process in processes:
            _wait_for(port, process, name)
        yield urls
    finally:
        for _, _, process in processes:
            process.terminate()
        for _, _, process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def record_responses(destinations) -> list[tuple[str, str, int, str | None, str]]:
    seen: list[tuple[str, str, int, str | None, str]] = []

    def hook(response, *args, **kwargs):
        request = response.request
        seen.append(
            (
                request.method,
                request.path_url.split("?")[0],
                response.status_code,
                response.headers.get("sl-violations"),
                response.text[:300],
            )
        )

    for destination in destinations.values():
        destination.http.session.hooks["response"].append(hook)
    return seen


def request_violations(violations: str | None) -> list[dict]:
    """What Prism found wrong with the request; its complaints about its own example answer
    (Twilio's list example has relative `uri` values) are not the destination's."""
    return [v for v in json.loads(violations or "[]") if (v.get("location") or ["request"])[0] != "response"]


def assert_all_valid(seen, expected_operations: set[tuple[str, str]]) -> None:
    invalid = [(m, p, s, v, body) for m, p, s, v, body in seen if not 200 <= s < 300 or request_violations(v)]
    assert not invalid, f"requests the contract refuses: {invalid}"
    exercised = {(m, p) for m, p, *_ in seen}
    assert expected_operations <= exercised, f"not exercised: {expected_operations - exercised}"


@pytest.fixture
def contract_warehouse(tmp_path) -> Path:
    path = tmp_path / "contracts.duckdb"
    with duckdb.connect(str(path)) as conn:
        create_members(conn, 12)
        create_plan(conn, people=4)
        conn.execute(
            "create table marts.fct_person_merges as "
            "select 'p0000012' as loser_person_id, 'p7777777' as winner_person_id, "
            "timestamp '2026-11-19 00:00:00' as merged_at, 'email' as link"
        )
        conn.execute(f"""create table marts.sync_sendgrid__contacts as
                         select 'sg' || i as person_id,
                                case i when 1 then '{SENDGRID_EXAMPLE_EMAILS[0]}'
                                       when 2 then '{SENDGRID_EXAMPLE_EMAILS[1]}'
                                       else 'sg' || i || '@example.com' end as email,
                                'First' || i as first_name, 'gold' as loyalty_tier
                         from range(1, 5) t(i)""")
    return path


def shrink_and_merge(warehouse: Path, relation: str, keep_where: str) -> None:
    """Second run: some members leave (removes), one changes, one is merged into a new person."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"delete from {relation} where not ({keep_where})")
        conn.execute(
            f"update {relation} set first_name = 'Renamed', loyalty_tier = 'platinum' "
            f"where person_id = (select min(person_id) from {relation})"
        )
        conn.execute(f"update {relation} set person_id = 'p7777777' where person_id = 'p0000012'")


def query_one(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()[0][0]


def run_all(warehouse: Path, config, **kwargs):
    destinations = build_destinations(config)
    seen = record_responses(destinations)
    reports = run_syncs(warehouse, config, now=NOW, destinations=destinations, **kwargs)
    return reports, seen


def message_sync(
    name: str,
    destination: str,
    channels: list[str],
    join_columns: list[str] | None = None,
    source="marts.fct_message_plan",
    fields=(),
):
    entry = {
        "name": name,
        "source": source,
        "destination": destination,
        "kind": "message",
        "channels": channels,
        "fields": list(fields),
    }
    if join_columns:
        entry["join"] = {"relation": "marts.dim_persons", "columns": join_columns}
    return entry


def assert_reports_clean(reports, expect_sends: bool = True) -> None:
    for report in reports:
        assert report.status == "succeeded", (report.sync, report.error)
        assert report.rejected == report.failed == report.unknown == report.skipped == 0, report
    if expect_sends:
        assert all(r.ok > 0 for r in reports), [(r.sync, r.ok) for r in reports]


@pytest.mark.slow
def test_klaviyo_requests_match_its_contract(prism, contract_warehouse, secrets):
    # Prism answers every job check with the contract's example ("processing"): no waiting for it.
    destination = {
        "type": "klaviyo",
        "base_url": prism["klaviyo"],
        "credentials": {"api_key": "TEST_KLAVIYO_KEY"},
        "settings": {"list_id": "Y6nRLr"},
        "job_wait_seconds": 0,
    }
    syncs = [
        {
            "name": "members",
            "source": "marts.sync_test__members",
            "destination": "klaviyo",
            "kind": "state",
            "mode": "mirror",
            "key": "person_id",
            "fields": ["email", "phone", "first_name", "last_name", "loyalty_tier", "consent_email", "consent_sms"],
            "max_remove_share": 0.5,
        },
        message_sync("email", "klaviyo", ["email", "sms"], ["email", "phone", "first_name"]),
    ]
    config = make_config({"klaviyo": destination}, syncs)
    reports, seen = run_all(contract_warehouse, config)
    assert_reports_clean(reports)
    shrink_and_merge(
        contract_warehouse, "marts.sync_test__members", "person_id <= 'p0000008' or person_id = 'p0000012'"
    )
    # Prism answers a job check with a status generated from the schema (not a real
    # outcome), so the first run's job is taken as finished here; the checks are made below.
    with duckdb.connect(str(contract_warehouse)) as conn:
        conn.execute("update activation.provider_jobs set status = 'completed'")
    config = make_config({"klaviyo": destination}, syncs[:1])
    destinations = build_destinations(config)
    seen_again = record_responses(destinations)
    reports = run_syncs(contract_warehouse, config, now=NOW, destinations=destinations)
    assert_reports_clean(reports)
    assert (reports[0].merges, reports[0].removes, reports[0].changes) == (1, 3, 1)
    job_id = query_one(contract_warehouse, "select job_id from activation.provider_jobs limit 1")
    result = destinations["klaviyo"].check_job(
        Job(job_id=job_id, records=[Record(key="p0000001", fields={"email": "p1@example.com"})])
    )
    assert result.status in ("pending", "completed", "errored", "failed")
    destinations["klaviyo"].import_errors(job_id, expected=1)
    # Erasure: a data-privacy deletion request by the e-mail synced.
    assert destinations["klaviyo"].delete_person("p0000001", {"email": "p1@example.com"}) is None
    assert_all_valid(
        seen + seen_again,
        {
            ("POST", "/api/data-privacy-deletion-jobs"),
            ("POST", "/api/profile-bulk-import-jobs"),
            ("POST", "/api/profile-subscription-bulk-create-jobs"),
            ("POST", "/api/profile-subscription-bulk-delete-jobs"),
            ("POST", "/api/profile-import"),
            ("DELETE", "/api/lists/Y6nRLr/relationships/profiles"),
            ("POST", "/api/events"),
            ("GET", f"/api/profile-bulk-import-jobs/{job_id}"),
            ("GET", f"/api/profile-bulk-import-jobs/{job_id}/import-errors"),
        },
    )


@pytest.mark.slow
def test_sendgrid_requests_match_its_contract(prism, contract_warehouse, secrets):
    destination = {
        "type": "sendgrid",
        "base_url": prism["sendgrid"],
        "credentials": {"api_key": "TEST_SENDGRID_KEY"},
        "settings": {
            "list_id": SENDGRID_LIST,
            "from_email": "shop@example.com",
            "from_name": "Shop",
            "custom_fields": {"loyalty_tier": "e1_T"},
            "templates": {"welcome": "d-0123456789abcdef0123456789abcdef"},
        },
        "job_wait_seconds": 0,
    }
    syncs = [
        {
            "name": "contacts",
            "source": "marts.sync_sendgrid__contacts",
            "destination": "sendgrid",
            "kind": "state",
            "mode": "mirror",
            "key": "person_id",
            "fields": ["email", "first_name", "loyalty_tier"],
            "max_remove_share": 1.0,
        },
        message_sync("email", "sendgrid", ["email"], ["email", "first_name"]),
    ]
    reports, seen = run_all(contract_warehouse, make_config({"sendgrid": destination}, syncs))
    assert_reports_clean(reports)
    with duckdb.connect(str(contract_warehouse)) as conn:
        conn.execute("delete from marts.sync_sendgrid__contacts where person_id in ('sg1', 'sg2')")
    reports, seen_again = run_all(contract_warehouse, make_config({"sendgrid": destination}, syncs[:1]))
    assert_reports_clean(reports)
    assert reports[0].removes == 2
    job_id = query_one(contract_warehouse, "select job_id from activation.provider_jobs limit 1")
    # Erasure: the contact found by e-mail (an example the mock knows), then deleted by id.
    sendgrid = build_destinations(make_config({"sendgrid": destination}, []))["sendgrid"]
    deleted = record_responses({"sendgrid": sendgrid})
    assert sendgrid.delete_person("sg1", {"email": SENDGRID_EXAMPLE_EMAILS[0]}) is None
    assert ("DELETE", "/v3/marketing/contacts") in {(m, p) for m, p, *_ in deleted}
    assert_all_valid(
        seen + seen_again + deleted,
        {
            ("PUT", "/v3/marketing/contacts"),
            ("POST", "/v3/marketing/contacts/search/emails"),
            ("DELETE", f"/v3/marketing/lists/{SENDGRID_LIST}/contacts"),
            ("POST", "/v3/mail/send"),
            ("GET", f"/v3/marketing/contacts/imports/{job_id}"),
        },
    )


@pytest.mark.slow
def test_twilio_requests_match_its_contract(prism, contract_warehouse, secrets):
    destination = {
        "type": "twilio",
        "base_url": prism["twilio"],
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "rate_limits": {"messages": {"per_second": 100, "burst": 10}},
        "settings": {
            "from": "+15005550006",
            "whatsapp_from": "whatsapp:+15005550006",
            "validity_period_seconds": 3600,
            "templates": {"welcome.1": "Welcome {first_name}", "default": "HX0123456789abcdef0123456789abcdef"},
        },
    }
    syncs = [message_sync("texts", "twilio", ["sms", "whatsapp"], ["phone", "first_name"])]
    config = make_config({"twilio": destination}, syncs)
    reports, seen = run_all(contract_warehouse, config)
    assert_reports_clean(reports)
    # The lookup of an interrupted send: the message list by recipient.
    twilio = build_destinations(config)["twilio"]
    lookups = record_responses({"twilio": twilio})
    message = Message("k1", "p1", "sms", "welcome", "1", {"phone": "+15558675310", "first_name": "Ann"})
    twilio.find_sent(message, NOW)
    messages = f"/2010-04-01/Accounts/{secrets['TEST_TWILIO_SID']}/Messages.json"
    assert_all_valid(seen + lookups, {("POST", messages), ("GET", messages)})


@pytest.mark.slow
def test_whatsapp_cloud_requests_match_its_contract(prism, contract_warehouse, secrets):
    destination = {
        "type": "whatsapp_cloud",
        "base_url": prism["whatsapp_cloud"],
        "credentials": {"access_token": "TEST_WHATSAPP_TOKEN"},
        "settings": {
            "phone_number_id": "106540352242922",
            "body_parameters": ["first_name"],
            "templates": {"welcome": {"name": "welcome_offer", "language": "en_US"}},
        },
    }
    syncs = [message_sync("whatsapp", "whatsapp", ["whatsapp"], ["phone", "first_name"])]
    reports, seen = run_all(contract_warehouse, make_config({"whatsapp": destination}, syncs))
    assert_reports_clean(reports)
    assert_all_valid(seen, {("POST", "/v23.0/106540352242922/messages")})


@pytest.mark.slow
def test_onesignal_requests_match_its_contract(prism, contract_warehouse, secrets):
    app_id = "5eb5a37e-b458-11e3-ac11-000c2940e62c"
    destination = {
        "type": "onesignal",
        "base_url": prism["onesignal"],
        "credentials": {"api_key": "TEST_ONESIGNAL_KEY"},
        # The published contract declares Bearer; the live API takes `Key` (the default).
        "settings": {
            "app_id": app_id,
            "auth_scheme": "Bearer",
            "templates": {
                "welcome": {"title": "Welcome", "body": "Hello"},
                "default": "be4a8044-bbd6-11e4-a581-000c2940e62c",
            },
        },
    }
    syncs = [
        {
            "name": "users",
            "source": "marts.sync_test__members",
            "destination": "onesignal",
            "kind": "state",
            "mode": "mirror",
            "key": "person_id",
            "fields": ["loyalty_tier", "consent_email"],
            "max_remove_share": 0.5,
        },
        message_sync("push", "onesignal", ["app_push", "web_push"]),
    ]
    reports, seen = run_all(contract_warehouse, make_config({"onesignal": destination}, syncs))
    assert_reports_clean(reports)
    shrink_and_merge(contract_warehouse, "marts.sync_test__members", "person_id <= 'p0000010'")
    reports, seen_again = run_all(contract_warehouse, make_config({"onesignal": destination}, syncs[:1]))
    assert_reports_clean(reports)
    assert reports[0].removes > 0 and reports[0].changes == 1
    # Erasure: the user deleted by our key (its external_id alias).
    onesignal = build_destinations(make_config({"onesignal": destination}, []))["onesignal"]
    deleted = record_responses({"onesignal": onesignal})
    assert onesignal.delete_person("p0000001", {}) is None
    assert_all_valid(
        seen + seen_again + deleted,
        {
            ("DELETE", f"/apps/{app_id}/users/by/external_id/p0000001"),
            ("POST", f"/apps/{app_id}/users"),
            ("PATCH", f"/apps/{app_id}/users/by/external_id/p0000001"),
            ("POST", "/notifications"),
        },
    )


@pytest.mark.slow
def test_fcm_requests_match_its_contract(prism, contract_warehouse, secrets):
    destination = {
        "type": "fcm",
        "base_url": prism["fcm"],
        "credentials": {"access_token": "TEST_FCM_TOKEN"},
        "settings": {
            "project_id": "retail-cdp-test",
            "templates": {"default": {"title": "Hi {person_id}", "body": "News"}},
        },
    }
    syncs = [
        message_sync(
            "push",
            "fcm",
            ["app_push", "web_push"],
            source="marts.sync_fcm__messages",
            fields=["push_token", "person_id"],
        )
    ]
    reports, seen = run_all(contract_warehouse, make_config({"fcm": destination}, syncs))
    assert_reports_clean(reports)
    assert_all_valid(seen, {("POST", "/v1/projects/retail-cdp-test/messages:send")})


@pytest.mark.slow
def test_a_request_that_breaks_the_contract_is_caught(prism, contract_warehouse, secrets):
    """The check itself works: a Twilio send without a recipient is refused by the mock."""
    destination = {
        "type": "twilio",
        "base_url": prism["twilio"],
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "settings": {"from": "+15005550006"},
    }
    destinations = build_destinations(make_config({"twilio": destination}, []))
    seen = record_responses(destinations)
    from activation.http import PermanentError

    with pytest.raises(PermanentError) as refused:
        destinations["twilio"].http.request(
            "messages",
            "POST",
            f"{prism['twilio']}/2010-04-01/Accounts/{secrets['TEST_TWILIO_SID']}/Messages.json",
            data={"Body": "no recipient"},
            auth=(secrets["TEST_TWILIO_SID"], "x"),
        )
    assert refused.value.status == 422 and "To" in refused.value.detail
    assert seen[0][2] == 422


def test_prism_validates_every_request_schema_it_is_given():
    """Prism silently lets any body pass when it cannot compile a schema; none may be such."""
    if shutil.which("node") is None or not PRISM.exists():
        pytest.fail("node and `npm ci` are needed for the contract tests")
    result = subprocess.run(
        ["node", str(CONTRACTS / "prism_schema_check.js"), *[str(CONTRACTS / f) for f in CONTRACT_FILES.values()]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "SKIPPED-BY-PRISM" not in result.stdout
    assert result.stdout.count(" operations\n") == len(CONTRACT_FILES)
    assert result.stdout.strip().endswith("all request schemas compile")
