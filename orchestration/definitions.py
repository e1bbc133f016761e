"""The one Definitions object Dagster loads (`make ui`, `dagster dev -m orchestration.definitions`)."""

from dagster import Definitions

from orchestration.dbt import cdp_dbt_models, dbt_resource

defs = Definitions(
    assets=[cdp_dbt_models],
    resources={"dbt": dbt_resource},
)
