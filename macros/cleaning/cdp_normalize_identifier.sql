{#
    An identifier whose kind is only known per row (consent subjects, erasure requests,
    message recipients): e-mails and phones normalised like everywhere else, any other
    kind trimmed. `kind_expression` evaluates to email, phone, sms, whatsapp or another
    kind; WhatsApp recipients may carry a "whatsapp:" prefix.
#}
{% macro cdp_normalize_identifier(kind_expression, value_expression) -%}
    case
        when {{ kind_expression }} = 'email' then {{ cdp_normalize_email(value_expression) }}
        when {{ kind_expression }} in ('phone', 'sms', 'whatsapp')
            then {{ cdp_normalize_phone("replace(lower(" ~ cdp_clean_text(value_expression) ~ "), 'whatsapp:', '')") }}
        else {{ cdp_clean_text(value_expression) }}
    end
{%- endmacro %}
