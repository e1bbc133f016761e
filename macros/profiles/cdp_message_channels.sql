{#
    The messaging channels a person can consent to and be reached on, in the order
    dim_persons lists their consent columns (the raw contract's consent channels minus
    `all`).
#}
{% macro cdp_message_channels() -%}
    {{ return(['email', 'sms', 'whatsapp', 'app_push', 'web_push']) }}
{%- endmacro %}
