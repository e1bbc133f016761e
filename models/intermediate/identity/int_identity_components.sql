{{ config(materialized='cdp_connected_components') }}
{#- Connected components of every admitted link, before limits are applied. -#}
select
    node_key_a,
    node_key_b
from {{ ref('int_identity_links') }}
