{#
    The reachability rules of the channel registry (cdp__channels' `reachability`), as
    reason codes over int_person_channel_reachability's `addresses` columns. A channel
    is reachable when its reason is one of cdp_reachable_reasons().
#}
{% macro cdp_reachability_reason(rule) -%}
    {%- if rule == 'email_address' -%}
        case when email is not null then 'email_address' else 'no_email_address' end
    {%- elif rule == 'e164_phone' -%}
        case when phone is not null then 'e164_phone' else 'no_phone' end
    {%- elif rule == 'whatsapp_phone' -%}
        case
            when phone is null then 'no_phone'
            when has_whatsapp_opt_in_on_phone then 'whatsapp_opt_in_on_phone'
            else 'no_whatsapp_opt_in_on_phone'
        end
    {%- elif rule == 'push_token' -%}
        case
            when live_push_token_count > 0 then 'push_token'
            when push_token_count > 0 then 'push_opted_out'
            else 'no_push_token'
        end
    {%- elif rule == 'browser' -%}
        case
            when not has_browser then 'no_browser'
            when has_web_push_subscription then 'subscribed_browser'
            else 'browser_not_subscribed'
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error('cdp__channels: reachability ' ~ rule ~ ' is not one of email_address, e164_phone, whatsapp_phone, push_token, browser') }}
    {%- endif -%}
{%- endmacro %}

{% macro cdp_reachable_reasons() -%}
    {{ return(['email_address', 'e164_phone', 'whatsapp_opt_in_on_phone', 'push_token', 'subscribed_browser']) }}
{%- endmacro %}
