{#
    A phone number in E.164 ("+442079460123"), or null when it is not a valid number.
    National-format numbers are read in `region_expression` (ISO 3166 alpha-2), falling
    back to the cdp__default_phone_region var.

    The parsing is Google's libphonenumber (the phonenumbers package), registered as the
    SQL function cdp_e164: by the dbt-duckdb plugin cdp.dbt_plugin on DuckDB, and by
    `cdp build --target spark` on the Spark session.
#}
{% macro cdp_normalize_phone(expression, region_expression=none) -%}
    {%- set default_region = "'" ~ var('cdp__default_phone_region') | upper ~ "'" -%}
    {%- set region = 'coalesce(upper(' ~ cdp_clean_text(region_expression) ~ '), ' ~ default_region ~ ')' if region_expression else default_region -%}
    cdp_e164({{ cdp_clean_text(expression) }}, {{ region }})
{%- endmacro %}
