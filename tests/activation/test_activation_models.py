"""The models activation reads, on the demo warehouse (seeds/demo/README.md tells the stories),
and the promise that the sync_* models are the only inputs of reverse ETL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cdp.build import demo_as_of
from cdp.dbt_runner import manifest_path, run_dbt
from cdp.sync_cli import load_activation_config
from tests.conftest import query, summary_of

MESSAGE_SYNC_MODELS = (
    "sync_sendgrid__messages",
    "sync_twilio__messages",
    "sync_whatsapp__messages",
    "sync_onesignal__messages",
    "sync_fcm__messages",
)


def person_of(warehouse: Path, crm_customer_id: str) -> str:
    ((person_id,),) = query(
        warehouse,
        """
        select person_id from marts.bdg_person_identifiers
        where identifier_type = 'crm_customer_id' and identifier_value = ?""",
        [crm_customer_id],
    )
    return person_id


def plan_of(warehouse: Path, person_id: str) -> list[dict]:
    rows = query(
        warehouse,
        """
        select journey, step, channel, status, suppression_reason, message_key, due_at, send_after
        from marts.fct_message_plan where person_id = ? order by journey, occurrence_key, step""",
        [person_id],
    )
    names = ("journey", "step", "channel", "status", "reason", "message_key", "due_at", "send_after")
    return [dict(zip(names, row, strict=True)) for row in rows]


def synced_keys(warehouse: Path, person_id: str) -> dict[str, list[str]]:
    """Every sync model that carries the person, with the keys it carries for them."""
    found = {}
    for model in ("sync_klaviyo__members", "sync_sendgrid__contacts", "sync_onesignal__users", *MESSAGE_SYNC_MODELS):
        key = "message_key" if model in MESSAGE_SYNC_MODELS else "person_id"
        keys = [k for (k,) in query(warehouse, f"select {key} from marts.{model} where person_id = ?", [person_id])]
        if keys:
            found[model] = keys
    return found


def test_liam_new_signup_gets_a_welcome_email(demo_warehouse):
    liam = person_of(demo_warehouse, "C1012")
    ((entered_at,),) = query(
        demo_warehouse,
        "select entered_at from marts.fct_audience_memberships where person_id = ? and audience_name = 'new_signups'",
        [liam],
    )
    (welcome,) = [m for m in plan_of(demo_warehouse, liam) if m["journey"] == "welcome" and m["step"] == 1]
    assert (welcome["channel"], welcome["status"], welcome["reason"]) == ("email", "planned", None)
    assert welcome["due_at"] == entered_at  # the first welcome step waits for nothing
    assert welcome["send_after"] == demo_as_of()  # and goes at the plan's moment
    ((email, address),) = query(
        demo_warehouse,
        "select s.email, d.email from marts.sync_sendgrid__messages s join marts.dim_persons d using (person_id) "
        "where s.message_key = ?",
        [welcome["message_key"]],
    )
    assert email == address and email.startswith("liam")


@pytest.mark.parametrize(
    "crm_customer_id, journey, reason",
    [
        ("C1023", "win_back", "erased"),  # ethan_erasure_request
        ("C1001", "cart_abandonment", "goal_reached"),  # maria_cart_then_store: bought it in the store
        ("C1015", "post_purchase_feedback", "global_control"),  # Ava is in the global control group
    ],
)
def test_suppressed_with_the_right_reason_and_in_no_sync(demo_warehouse, crm_customer_id, journey, reason):
    person_id = person_of(demo_warehouse, crm_customer_id)
    plan = [m for m in plan_of(demo_warehouse, person_id) if m["journey"] == journey]
    assert plan and {(m["status"], m["reason"]) for m in plan} == {("suppressed", reason)}
    carried = {key for model in MESSAGE_SYNC_MODELS for key in synced_keys(demo_warehouse, person_id).get(model, [])}
    assert not carried & {m["message_key"] for m in plan}


def test_james_with_an_open_ticket_and_an_undelivered_order_is_sent_nothing(demo_warehouse):
    """His recent order is shipped, not delivered (no feedback request); his open ticket would stop promotions."""
    assert plan_of(demo_warehouse, person_of(demo_warehouse, "C1004")) == []


def test_ethan_erased_is_in_no_sync_at_all(demo_warehouse):
    assert synced_keys(demo_warehouse, person_of(demo_warehouse, "C1023")) == {}


def test_james_with_an_open_ticket_stays_on_the_lists(demo_warehouse):
    """The ticket stops promotions, not his subscription."""
    james = person_of(demo_warehouse, "C1004")
    assert set(synced_keys(demo_warehouse, james)) == {"sync_klaviyo__members", "sync_sendgrid__contacts"}


def test_priya_revoked_email_keeps_sms(demo_warehouse):
    priya = person_of(demo_warehouse, "C1003")
    ((consent_email, consent_sms),) = query(
        demo_warehouse,
        "select consent_email, consent_sms from marts.sync_klaviyo__members where person_id = ?",
        [priya],
    )
    # Klaviyo receives the revocation as an e-mail unsubscribe and keeps her SMS subscription.
    assert (consent_email, consent_sms) == (False, True)
    assert "sync_sendgrid__contacts" not in synced_keys(demo_warehouse, priya)
    emails = query(
        demo_warehouse,
        "select count(*) from marts.fct_message_plan where person_id = ? and channel = 'email' and status = 'planned'",
        [priya],
    )
    assert emails == [(0,)]


def test_lucas_is_planned_on_his_preferred_whatsapp_and_mia_on_app_push(demo_warehouse):
    lucas, mia = person_of(demo_warehouse, "C1024"), person_of(demo_warehouse, "C1025")
    assert [(m["channel"], m["status"]) for m in plan_of(demo_warehouse, lucas)] == [("whatsapp", "planned")]
    mia_messages = plan_of(demo_warehouse, mia)
    assert {(m["journey"], m["channel"], m["status"]) for m in mia_messages} == {
        ("cart_abandonment", "app_push", "planned"),
        ("win_back", "app_push", "planned"),
    }
    # Her cart reminder takes today's slot; the win-back waits (one promotional message a day).
    (mia_message,) = [m for m in mia_messages if m["journey"] == "cart_abandonment" and m["step"] == 1]
    assert mia_message["send_after"] == demo_as_of()
    (win_back,) = [m for m in mia_messages if m["journey"] == "win_back" and m["step"] == 1]
    assert win_back["send_after"] > demo_as_of() + timedelta(hours=20)
    ((token,),) = query(
        demo_warehouse,
        "select push_token from marts.sync_fcm__messages where message_key = ?",
        [mia_message["message_key"]],
    )
    latest = query(
        demo_warehouse,
        """
        select identifier_value from marts.bdg_person_identifiers where person_id = ? and identifier_type = 'push_token'
        order by last_seen_at desc limit 1""",
        [mia],
    )
    assert [(token,)] == latest


def test_every_planned_message_is_in_exactly_one_sync_model_and_nothing_else_is(demo_warehouse):
    planned = {
        k for (k,) in query(demo_warehouse, "select message_key from marts.fct_message_plan where status = 'planned'")
    }
    carried = [
        k for model in MESSAGE_SYNC_MODELS for (k,) in query(demo_warehouse, f"select message_key from marts.{model}")
    ]
    assert len(carried) == len(set(carried)) and set(carried) == planned


def test_message_keys_do_not_depend_on_the_build(demo_warehouse):
    """The key is md5 of person, journey, occurrence and step: recomputable from the row."""
    rows = query(
        demo_warehouse,
        """
        select message_key, md5(concat_ws('|', person_id, journey, occurrence_key, cast(step as varchar)))
        from marts.fct_message_plan""",
    )
    assert rows and all(key == expected for key, expected in rows)


def test_summary_reports_audiences_and_the_plan(demo_warehouse):
    lines = summary_of(demo_warehouse)
    audiences = lines[
        lines.index("Audiences (persons in each now):") + 1 : lines.index(
            "Message plan (planned by channel, suppressed by reason):"
        )
    ]
    assert {line.split()[0]: int(line.split()[1]) for line in audiences} == dict(
        query(demo_warehouse, "select audience_name, count(*) from marts.fct_audience_memberships group by 1")
    )
    plan = lines[
        lines.index("Message plan (planned by channel, suppressed by reason):") + 1 : lines.index(
            "Quarantined rows by reason:"
        )
    ]
    reported = {tuple(line.split()[:3]): int(line.split()[3]) for line in plan}
    assert reported == {
        (j, s, d): n
        for j, s, d, n in query(
            demo_warehouse,
            """
        select journey, status, coalesce(suppression_reason, channel), count(*)
        from marts.fct_message_plan group by 1, 2, 3""",
        )
    }
    assert ("welcome", "planned", "email") in reported and ("win_back", "suppressed", "erased") in reported


@pytest.fixture(scope="module")
def manifest() -> dict:
    run_dbt(["parse", "--quiet"])
    return json.loads(manifest_path().read_text())


def test_syncs_read_only_sync_models_each_exposed_for_its_destination(manifest, monkeypatch):
    monkeypatch.delenv("CDP_ACTIVATION_CONFIG", raising=False)
    config = load_activation_config()
    models = {
        node["unique_id"]: f"{node['schema']}.{node['name']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    exposed = {
        exposure["name"]: {models[n] for n in exposure["depends_on"]["nodes"]}
        for exposure in manifest["exposures"].values()
    }
    synced: dict[str, set[str]] = {}
    for sync in config.syncs:
        assert sync.source.split(".")[1].startswith("sync_"), (
            f"sync {sync.name} reads {sync.source}, not a sync_* model"
        )
        assert sync.source in models.values(), f"sync {sync.name}: {sync.source} is not a dbt model"
        synced.setdefault(sync.destination, set()).add(sync.source)
    assert exposed == synced


def test_explain_tells_why_each_message_was_decided(demo_warehouse):
    from cdp.explain import explain

    james = {section.title: section.lines for section in explain(demo_warehouse, "C1004")}
    messages = james["Messages planned or suppressed (fct_message_plan)"]
    assert messages[0].startswith("erased: no; marketing consent: email;") and "open support tickets: 1" in messages[0]
    assert messages[-1] == "no journey plans a message"

    mia = {section.title: section.lines for section in explain(demo_warehouse, "C1025")}
    lines = mia["Messages planned or suppressed (fct_message_plan)"]
    assert "time zone: Europe/London" in "\n".join(lines)
    (win_back,) = [index for index, line in enumerate(lines) if line.startswith("win_back") and " 1 " in line]
    assert "planned" in lines[win_back]
    why = lines[win_back + 1]
    assert why.startswith("    why: channel by preferred_channel (reachability: push_token)")
    assert "by frequency_cap" in why and "cap slot: day +2, 1 already that day" in why
