-- int_identity_quarantined_identifiers: one row per (source row, excluded identifier)
select source_table, source_key, column_name, count(*) as row_count
from {{ ref('int_identity_quarantined_identifiers') }}
group by source_table, source_key, column_name
having count(*) > 1
