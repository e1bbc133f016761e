-- bdg_person_identifiers: one row per (identifier_type, identifier_value)
select identifier_type, identifier_value, count(*) as row_count
from {{ ref('bdg_person_identifiers') }}
group by identifier_type, identifier_value
having count(*) > 1
