{#
    E-mail addresses trimmed and lower-cased; null when the text is not an address
    (no @, no dot in the domain, spaces...). Pair with cdp_is_present() on the raw value
    to tell "absent" from "invalid".
#}
{% macro cdp_normalize_email(expression) -%}
    case
        when {{ cdp_regexp_matches('lower(' ~ cdp_clean_text(expression) ~ ')', "[a-z0-9._%+''-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}") }}
            then lower({{ cdp_clean_text(expression) }})
    end
{%- endmacro %}
