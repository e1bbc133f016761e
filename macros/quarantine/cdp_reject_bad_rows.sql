{#
    The last step of every base staging model. Adds
      _cdp_base_row_id    unique per raw row, even for exact copies
      _cdp_key            the row's source key as text, for quarantine reports
      _rejection_reason   why the row is kept out of staging (null: it is not)
      _rejection_column   the column that caused it, where one did
    Checks apply in the order given; the first that holds is the reason. Rows that pass
    every check then lose their exact duplicates ("exact_duplicate") and, among rows with
    the same key, all but the first by `keep_first_by` ("duplicate_key"; ties and a
    missing `keep_first_by` fall back to the order in which rows were loaded).

    checks: list of (condition, reason, column) with condition true for a bad row.
#}
{% macro cdp_reject_bad_rows(relation, key_columns, checks, keep_first_by=none) -%}
    {%- set check_reason -%}
        case
        {%- for condition, reason, column in checks %}
            when {{ condition }} then '{{ reason }}'
        {%- endfor %}
        end
    {%- endset -%}
    {%- set check_column -%}
        case
        {%- for condition, reason, column in checks %}
            when {{ condition }} then '{{ column }}'
        {%- endfor %}
        end
    {%- endset -%}
    {%- set key_parts = [] -%}
    {%- for column in key_columns -%}
        {%- if not loop.first -%}{%- do key_parts.append("'|'") -%}{%- endif -%}
        {%- do key_parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    with cdp_checked as (
        select
            *,
            {{ dbt.concat(key_parts) }} as _cdp_key,
            {{ check_reason }} as _check_reason,
            {{ check_column }} as _check_column
        from {{ relation }}
    ),

    cdp_copies as (
        select
            *,
            row_number() over (
                partition by _check_reason is null, _cdp_row_hash
                order by _cdp_source_file, _cdp_source_row
            ) as _copy_number
        from cdp_checked
    ),

    cdp_ranked as (
        select
            *,
            row_number() over (
                partition by _check_reason is null and _copy_number = 1, {{ key_columns | join(', ') }}
                order by {{ keep_first_by ~ ', ' if keep_first_by }}_cdp_source_file, _cdp_source_row
            ) as _key_rank
        from cdp_copies
    )

    select
        *,
        {{ cdp_surrogate_key(['_cdp_source_file', '_cdp_source_row', '_cdp_row_hash', '_check_reason', '_copy_number']) }} as _cdp_base_row_id,
        case
            when _check_reason is not null then _check_reason
            when _copy_number > 1 then 'exact_duplicate'
            when _key_rank > 1 then 'duplicate_key'
        end as _rejection_reason,
        case
            when _check_reason is not null then _check_column
            when _copy_number = 1 and _key_rank > 1 then '{{ key_columns | join(",") }}'
        end as _rejection_column
    from cdp_ranked
{%- endmacro %}
