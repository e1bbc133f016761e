{#
    Building blocks for the `checks` of cdp_reject_bad_rows. Each returns a list of
    (condition, reason, column); a base model concatenates them in the order they
    should apply. Conditions refer to the typed column `<column>` and, where absent and
    unparseable must be told apart, to the cleaned raw text `_raw_<column>`.

    Reasons (the quarantine vocabulary, documented in the README):
      null_key, missing_required_value, unparseable_required_value, unknown_enum_value,
      out_of_range_value, timestamp_after_as_of, invalid_subject_value
    and, for values nulled in kept rows (cdp_value_issue):
      invalid_email, invalid_phone, invalid_optional_value
#}
{% macro cdp_check_key(columns) -%}
    {%- set checks = [] -%}
    {%- for column in columns -%}
        {%- do checks.append((column ~ ' is null', 'null_key', column)) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}

{% macro cdp_check_required(column) -%}
    {{ return([
        ('_raw_' ~ column ~ ' is null', 'missing_required_value', column),
        (column ~ ' is null', 'unparseable_required_value', column),
    ]) }}
{%- endmacro %}

{% macro cdp_check_enum(column, source_name, table_name, source_column=none, required=true) -%}
    {%- set values = cdp_accepted_values(source_name, table_name, source_column or column) -%}
    {%- set checks = [(column ~ ' is null', 'missing_required_value', column)] if required else [] -%}
    {%- do checks.append((column ~ ' not in ' ~ values, 'unknown_enum_value', column)) -%}
    {{ return(checks) }}
{%- endmacro %}

{% macro cdp_check_not_after_as_of(column) -%}
    {{ return([(column ~ ' > ' ~ cdp_as_of(), 'timestamp_after_as_of', column)]) }}
{%- endmacro %}

{% macro cdp_check_range(column, min_value=none, max_value=none) -%}
    {%- set conditions = [] -%}
    {%- if min_value is not none -%}{%- do conditions.append(column ~ ' < ' ~ min_value) -%}{%- endif -%}
    {%- if max_value is not none -%}{%- do conditions.append(column ~ ' > ' ~ max_value) -%}{%- endif -%}
    {{ return([('(' ~ conditions | join(' or ') ~ ')', 'out_of_range_value', column)]) }}
{%- endmacro %}

{#
    A value of a kept row that did not survive cleaning: the typed column is null while
    the raw text was there. Yields the _issue__<column> that cdp_quarantine_rows reports.
#}
{% macro cdp_value_issue(column, reason='invalid_optional_value') -%}
    case when {{ column }} is null and _raw_{{ column }} is not null then '{{ reason }}' end as _issue__{{ column }}
{%- endmacro %}
