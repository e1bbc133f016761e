"""Each sync of activation.yml as an asset, downstream of the sync_* model it reads.

A sync asset runs one sync through orchestration/activation.py (the engine of `cdp
sync`) with the run's "now", and records the sync's counts as metadata (plotted over
time). A sync that fails or partly fails (rows failed, rejected, or in an unknown state)
fails its asset with the reason. A sync does not run while a blocking quality check on a
table it reads through failed: in the same run Dagster skips it; on its own (launched on
demand) it looks up the check's latest evaluation and refuses.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    ConfigMapping,
    DagsterInstance,
    Enum,
    EnumValue,
    Failure,
    Field,
    MaterializeResult,
    asset,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from pydantic import Field as ConfigField

from activation.config import ActivationConfig, SyncConfig
from orchestration.activation import (
    ActivationResource,
    activation_config,
    failure_reason,
    relation_model,
    relations_read,
    report_metadata,
)
from orchestration.checks import blocking_check_keys
from orchestration.clock import as_of_metadata, run_as_of
from orchestration.dbt import model_asset_key
from orchestration.locking import WarehouseLock
from orchestration.project import manifest, model_node
from orchestration.settings import ACTIVATION_GROUP, WAREHOUSE_POOL

SYNC_KEY_PREFIX = "sync"


def sync_asset_key(sync_name: str) -> AssetKey:
    return AssetKey([SYNC_KEY_PREFIX, sync_name])


def sync_op_name(sync_name: str) -> str:
    return sync_asset_key(sync_name).to_python_identifier()


class SyncRunConfig(Config):
    force: bool = ConfigField(
        default=False, description="Run even when the sync would remove more than its max_remove_share (--force)."
    )
    skip: bool = ConfigField(default=False, description="Do not run this sync in this run (set by cdp_sync_one).")


def ancestor_models(model_name: str) -> set[str]:
    """Every dbt model upstream of ``model_name``, and itself."""
    parents = manifest()["parent_map"]
    seen, todo = set(), [model_node(model_name)["unique_id"]]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo += [parent for parent in parents.get(node, []) if parent.startswith("model.")]
    return {manifest()["nodes"][node]["name"] for node in seen}


def guarding_checks(config: ActivationConfig, sync: SyncConfig) -> list[AssetCheckKey]:
    """The blocking checks on tables the sync reads, directly or through its models."""
    read = set().union(*(ancestor_models(relation_model(r)) for r in relations_read(config, sync)))
    return [key for key in blocking_check_keys() if key.asset_key in {model_asset_key(m) for m in read}]


def failed_checks(instance: DagsterInstance, keys: list[AssetCheckKey]) -> list[str]:
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return [
        f"{key.name} on {key.asset_key.to_user_string()} (run {record.run_id[:8]})"
        for key, record in latest.items()
        if record.status == AssetCheckExecutionRecordStatus.FAILED
    ]


def sync_asset(config: ActivationConfig, sync: SyncConfig) -> AssetsDefinition:
    checks = guarding_checks(config, sync)
    checked_tables = {key.asset_key for key in checks}
    deps = list(
        dict.fromkeys(
            [model_asset_key(relation_model(r)) for r in relations_read(config, sync)] + sorted(checked_tables, key=str)
        )
    )

    @asset(
        key=sync_asset_key(sync.name),
        deps=deps,
        group_name=ACTIVATION_GROUP,
        description=(
            f"The {sync.kind} sync {sync.name} of activation.yml: {sync.source} to destination "
            f"{sync.destination} ({sync.mode}), as `cdp sync` runs it."
        ),
        kinds={"python", sync.destination},
        pool=WAREHOUSE_POOL,
        output_required=False,
    )
    def _sync(
        context: AssetExecutionContext,
        activation: ActivationResource,
        warehouse_lock: WarehouseLock,
        config: SyncRunConfig,
    ) -> Iterator:
        if config.skip:
            context.log.info(f"{sync.name} is not the sync this run was asked for; not run")
            return
        blocked = failed_checks(context.instance, checks)
        if blocked:
            raise Failure(
                description=(
                    f"{sync.name} not run: the latest evaluation of blocking check(s) "
                    f"{', '.join(blocked)} failed; nothing was sent. Fix the data and refresh."
                )
            )
        as_of = run_as_of(context)
        report, holdings = activation.run_sync(sync.name, as_of.moment, config.force)
        metadata = report_metadata(report, holdings) | as_of_metadata(as_of)
        problem = failure_reason(report)
        if problem:
            raise Failure(description=f"{sync.name}: {problem}", metadata=metadata)
        yield MaterializeResult(metadata=metadata)

    return _sync


def sync_assets() -> list[AssetsDefinition]:
    config = activation_config()
    return [sync_asset(config, sync) for sync in config.syncs]


def one_sync_config_mapping(config: ActivationConfig) -> ConfigMapping:
    """cdp_sync_one's config: the sync to run (a list to pick from), and force."""
    names = [sync.name for sync in config.syncs]

    def to_run_config(chosen: dict) -> dict:
        return {
            "ops": {
                sync_op_name(name): {"config": {"skip": name != chosen["sync"], "force": chosen["force"]}}
                for name in names
            }
        }

    return ConfigMapping(
        config_fn=to_run_config,
        config_schema={
            "sync": Field(Enum("SyncName", [EnumValue(name) for name in names]), description="The sync to run."),
            "force": Field(bool, default_value=False, description="Accept removes beyond max_remove_share."),
        },
    )
