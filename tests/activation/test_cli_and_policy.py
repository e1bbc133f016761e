"""`cdp sync` as an operator runs it, the shipped configuration, and the HTTP policy's rules."""

from __future__ import annotations

import pytest
import yaml

from activation.config import ConfigError, parse_config
from activation.http import AmbiguousError, HttpPolicy, PermanentError, RateLimit, RateLimiter, TokenBucket
from activation.standins import Fault
from cdp.cli import main
from cdp.sync_cli import load_activation_config
from tests.activation.conftest import CHANNELS, SECRETS, klaviyo_destination, state_sync


@pytest.fixture
def cli_env(warehouse, standin, secrets, tmp_path, monkeypatch):
    config = tmp_path / "activation.yml"
    config.write_text(
        yaml.safe_dump({"destinations": {"klaviyo": klaviyo_destination(standin.url)}, "syncs": [state_sync()]})
    )
    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CDP_ACTIVATION_CONFIG", str(config))
    return warehouse


def test_dry_run_prints_counts_and_keys_only(cli_env, standin, capsys):
    assert main(["sync", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "members -> klaviyo (state, mirror): dry_run" in out
    assert "adds 40, changes 0, removes 0 of 0 synced" in out
    assert "add p0000001" in out
    assert "@example.com" not in out and not any(secret in out for secret in SECRETS.values())
    assert sum(standin.requests.values()) == 0


def test_guard_makes_the_command_fail_until_forced(cli_env, standin, capsys):
    import duckdb

    assert main(["sync"]) == 0
    with duckdb.connect(str(cli_env)) as conn:
        conn.execute("delete from marts.sync_test__members where person_id > 'p0000010'")
    assert main(["sync", "--destination", "klaviyo"]) == 1
    assert "more than max_remove_share 20%" in capsys.readouterr().out
    assert main(["sync", "--force"]) == 0
    assert len(standin["klaviyo"].members["LIST1"]) == 10


def test_rejected_rows_make_the_command_exit_3_with_how_many_and_why(cli_env, standin, capsys):
    import duckdb

    with duckdb.connect(str(cli_env)) as conn:
        conn.execute("update marts.sync_test__members set email = 'x@invalid.example' where person_id = 'p0000003'")
    assert main(["sync"]) == 3
    out = capsys.readouterr().out
    assert "members -> klaviyo (state, mirror): needs_attention" in out
    assert "needs attention: 1 rows rejected by the provider" in out
    assert "invalid.example" not in out
    # The rejection stays in activation.rejected_rows; a rerun with nothing new to send is clean again.
    assert main(["sync"]) == 0


def test_unknown_destination_is_a_clear_error(cli_env, capsys):
    assert main(["sync", "--destination", "braze"]) == 2
    assert "unknown destination 'braze' (configured: klaviyo)" in capsys.readouterr().err


def test_shipped_configuration_loads_and_names_its_sources(monkeypatch):
    monkeypatch.delenv("CDP_ACTIVATION_CONFIG", raising=False)
    config = load_activation_config()
    assert {d.type for d in config.destinations.values()} == {
        "klaviyo",
        "sendgrid",
        "twilio",
        "whatsapp_cloud",
        "onesignal",
        "fcm",
        "webhook",
    }
    channels = {c for s in config.syncs for c in s.channels}
    assert channels == {"email", "sms", "whatsapp", "app_push", "web_push"}
    assert config.merge_log == "marts.fct_person_merges"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "stream"}, r"syncs\[0\] \(members\)\.kind: must be one of state, message"),
        ({"fields": []}, r"syncs\[0\] \(members\): a state sync lists the fields it sends"),
        ({"destination": "nowhere"}, r"syncs\[0\] \(members\): destination 'nowhere' is not configured"),
        ({"source": "sync_without_schema"}, r"syncs\[0\] \(members\)\.source: must be schema\.relation"),
    ],
)
def test_configuration_errors_name_the_entry_and_field(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(
            {"destinations": {"klaviyo": klaviyo_destination("http://127.0.0.1:9")}, "syncs": [state_sync(**change)]},
            CHANNELS,
        )


def test_batch_size_above_the_provider_limit_is_refused():
    with pytest.raises(ConfigError, match=r"destinations\.klaviyo\.batch_sizes: upsert .* the provider's limit 10000"):
        parse_config(
            {
                "destinations": {"klaviyo": klaviyo_destination("http://127.0.0.1:9", batch_sizes={"upsert": 20000})},
                "syncs": [],
            },
            CHANNELS,
        )


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_token_bucket_keeps_the_steady_rate_after_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(per_second=2.5, burst=10), clock=clock, sleep=clock.sleep)
    for _ in range(109):
        bucket.acquire()
    # 9 at once (one of the burst is held in reserve), then one every 0.4 s.
    assert clock.now == pytest.approx(100 / 2.5)
    bucket.pause_for(5)
    before = clock.now
    bucket.acquire()
    assert clock.now - before == pytest.approx(5 + 0.4)


def policy(max_attempts=3):
    return HttpPolicy(
        RateLimiter({"op": RateLimit(per_second=1000, burst=100)}),
        max_attempts=max_attempts,
        timeout_seconds=1,
        sleep=lambda s: None,
    )


def test_other_4xx_fails_at_once(standin):
    http = policy()
    with pytest.raises(PermanentError) as refused:
        http.request("op", "POST", standin.url + "/no-such-endpoint", json={})
    assert refused.value.status == 404 and http.stats.requests == 1


def test_a_4xx_after_a_5xx_is_retried_once_on_a_fresh_connection(standin):
    standin.add_fault(Fault("error", count=2, path_contains="/api/events"))
    standin.add_fault(Fault("reject", count=1, path_contains="/api/events"))
    http = policy(max_attempts=6)
    body = {"data": {"attributes": {"unique_id": "k1"}}}
    http.request("op", "POST", standin.url + "/api/events", json=body, repeatable=False)
    assert http.stats.requests == 4


def test_a_4xx_after_a_5xx_is_final_when_the_fresh_connection_gets_it_too(standin):
    standin.add_fault(Fault("error", count=1, path_contains="/api/events"))
    standin.add_fault(Fault("reject", count=2, path_contains="/api/events"))
    http = policy(max_attempts=6)
    with pytest.raises(PermanentError) as refused:
        http.request("op", "POST", standin.url + "/api/events", json={}, repeatable=False)
    assert refused.value.status == 400 and http.stats.requests == 3


def test_sends_without_idempotency_are_not_repeated_once_they_may_have_landed(standin):
    standin.add_fault(Fault("slow", count=1, seconds=1.5, path_contains="/api/events"))
    http = policy()
    body = {"data": {"attributes": {"unique_id": "k1"}}}
    with pytest.raises(AmbiguousError):
        http.request("op", "POST", standin.url + "/api/events", json=body, repeatable=False)
    assert http.stats.requests == 1
    standin.add_fault(Fault("throttle", count=1, path_contains="/api/events"))
    http.request(
        "op", "POST", standin.url + "/api/events", json={"data": {"attributes": {"unique_id": "k2"}}}, repeatable=False
    )
    assert http.stats.requests == 3 and http.stats.throttled == 1
