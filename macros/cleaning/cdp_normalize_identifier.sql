{#
    An identifier whose kind is only known per row (consent subjects, erasure requests,
    message recipients): e-mails and phones normalised like everywhere else, any other
    kind trimmed. `kind_expression` evaluates to an identifier type (email, phone, ...)
    or a channel of the registry (cdp__channels), which stands for its address field (a
    WhatsApp recipient is a phone, and may carry a "whatsapp:" prefix).
#}
{% macro cdp_normalize_identifier(kind_expression, value_expression) -%}
    {%- set email_kinds = ['email'] -%}
    {%- set phone_kinds = ['phone'] -%}
    {%- for channel in cdp_channels() -%}
        {%- if channel.address_field == 'email' and channel.channel not in email_kinds -%}
            {%- do email_kinds.append(channel.channel) -%}
        {%- elif channel.address_field == 'phone' and channel.channel not in phone_kinds -%}
            {%- do phone_kinds.append(channel.channel) -%}
        {%- endif -%}
    {%- endfor -%}
    case
        when {{ kind_expression }} in ('{{ email_kinds | join("', '") }}') then {{ cdp_normalize_email(value_expression) }}
        when {{ kind_expression }} in ('{{ phone_kinds | join("', '") }}')
            then {{ cdp_normalize_phone("replace(lower(" ~ cdp_clean_text(value_expression) ~ "), 'whatsapp:', '')") }}
        else {{ cdp_clean_text(value_expression) }}
    end
{%- endmacro %}
