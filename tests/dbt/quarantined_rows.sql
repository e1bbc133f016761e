{#
    Reports how many rows the build quarantined or repaired, as a warning: bad input
    never stops the build, but it must never go unnoticed either. Details by reason are
    in fct_quarantined_rows (and in `cdp build`'s summary).
#}
{{ config(severity='warn', tags=['data_quality']) }}

select
    source_table,
    reason,
    action,
    source_key
from {{ ref('fct_quarantined_rows') }}
