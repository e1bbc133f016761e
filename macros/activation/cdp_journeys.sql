{#
    The journeys of the message plan (var cdp__journeys), checked: a mistake in the
    var stops the build with a message that names the entry and the field, instead of
    planning nothing or planning on a channel nobody can consent to.
#}
{% macro cdp_journeys() -%}
    {%- set known_journeys = ['welcome', 'cart_abandonment', 'browse_abandonment', 'post_purchase_feedback',
                              'fifth_purchase_reward', 'tier_upgrade', 'near_next_tier', 'points_expiring',
                              'win_back', 'churn_risk'] -%}
    {%- set channels = cdp_journey_channel_priority() -%}
    {%- set journeys = [] -%}
    {%- set seen = [] -%}
    {%- for entry in var('cdp__journeys') -%}
        {%- set where = 'cdp__journeys[' ~ loop.index0 ~ ']' -%}
        {%- for required in ['journey', 'step', 'audience', 'delay_hours'] -%}
            {%- if entry[required] is not defined or entry[required] is none -%}
                {{ exceptions.raise_compiler_error(where ~ ': `' ~ required ~ '` is required') }}
            {%- endif -%}
        {%- endfor -%}
        {%- if entry.journey not in known_journeys -%}
            {{ exceptions.raise_compiler_error(where ~ ': journey ' ~ entry.journey ~ ' is not one of ' ~ known_journeys | join(', ')) }}
        {%- endif -%}
        {%- if entry.step is not number or entry.step < 1 or entry.delay_hours is not number or entry.delay_hours < 0 -%}
            {{ exceptions.raise_compiler_error(where ~ ': step must be a whole number from 1 and delay_hours a number from 0') }}
        {%- endif -%}
        {%- if entry.audience not in cdp_audience_names() -%}
            {{ exceptions.raise_compiler_error(where ~ ': audience ' ~ entry.audience ~ ' is not one of ' ~ cdp_audience_names() | join(', ') ~ ' (fct_audience_memberships)') }}
        {%- endif -%}
        {%- set key = entry.journey ~ '.' ~ entry.step -%}
        {%- if key in seen -%}
            {{ exceptions.raise_compiler_error(where ~ ': step ' ~ key ~ ' is defined twice') }}
        {%- endif -%}
        {%- do seen.append(key) -%}
        {%- set allowed = entry.get('channels') or channels -%}
        {%- for channel in allowed if channel not in channels -%}
            {{ exceptions.raise_compiler_error(where ~ ': channel ' ~ channel ~ ' is not in cdp__journey_channel_priority (' ~ channels | join(', ') ~ ')') }}
        {%- endfor -%}
        {%- do journeys.append({
            'journey': entry.journey, 'step': entry.step | int, 'audience': entry.audience,
            'delay_hours': entry.delay_hours, 'repeatable': entry.get('repeatable') in [true, 'true', 'True'],
            'channels': allowed}) -%}
    {%- endfor -%}
    {{ return(journeys) }}
{%- endmacro %}

{#- The channels a journey may use, in the order tried when the person prefers none of them. -#}
{% macro cdp_journey_channel_priority() -%}
    {%- set priority = var('cdp__journey_channel_priority') -%}
    {%- for channel in priority if channel not in cdp_message_channels() -%}
        {{ exceptions.raise_compiler_error('cdp__journey_channel_priority: ' ~ channel ~ ' is not a channel (' ~ cdp_message_channels() | join(', ') ~ ')') }}
    {%- endfor -%}
    {{ return(priority) }}
{%- endmacro %}

{#- The audiences of fct_audience_memberships: each is a CTE of that name in the model. -#}
{% macro cdp_audience_names() -%}
    {{ return(['new_signups', 'new_customers', 'recent_purchasers', 'champions', 'at_risk_customers', 'lapsed_customers']) }}
{%- endmacro %}
