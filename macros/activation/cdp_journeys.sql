{#
    The journeys of the message plan (var cdp__journeys), in the shape the models use.
    `cdp build` validates the whole structure first (cdp/journeys.py); this side checks
    what SQL needs to plan anything at all, so that a plain `dbt build` with a typo stops
    with an error naming the entry instead of planning nothing.
#}
{% macro cdp_journeys() -%}
    {%- set entry_parameters = {
        'audience': ['audience'], 'cart_abandoned': [], 'browse_abandoned': [], 'purchase_completed': [],
        'nth_purchase': ['n'], 'tier_upgraded': [], 'points_expiring': ['within_days']} -%}
    {%- set goals = ['none', 'any_purchase', 'purchase_of_products', 'survey_answer', 'next_tier_reached', 'points_redeemed'] -%}
    {%- set registry = cdp_message_channels() -%}
    {%- set journeys = [] -%}
    {%- for entry in var('cdp__journeys') -%}
        {%- set where = 'cdp__journeys[' ~ loop.index0 ~ '] (' ~ entry.get('journey', '?') ~ ')' -%}
        {%- for required in ['journey', 'purpose', 'priority', 'entry', 'goal', 'reentry_gap_days', 'sources', 'steps'] -%}
            {%- if entry.get(required) is none -%}
                {{ exceptions.raise_compiler_error(where ~ ': `' ~ required ~ '` is required (run `cdp build` for a full check)') }}
            {%- endif -%}
        {%- endfor -%}
        {%- set kind = entry.entry.get('kind') -%}
        {%- if kind not in entry_parameters -%}
            {{ exceptions.raise_compiler_error(where ~ ': entry kind ' ~ kind ~ ' is not one of ' ~ entry_parameters.keys() | list | join(', ')) }}
        {%- endif -%}
        {%- for parameter in entry_parameters[kind] if entry.entry.get(parameter) is none -%}
            {{ exceptions.raise_compiler_error(where ~ ': entry ' ~ kind ~ ' needs `' ~ parameter ~ '`') }}
        {%- endfor -%}
        {%- if entry.goal not in goals -%}
            {{ exceptions.raise_compiler_error(where ~ ': goal ' ~ entry.goal ~ ' is not one of ' ~ goals | join(', ')) }}
        {%- endif -%}
        {%- if kind == 'audience' and entry.entry.audience not in cdp_audience_names() -%}
            {{ exceptions.raise_compiler_error(where ~ ': audience ' ~ entry.entry.audience ~ ' is not one of ' ~ cdp_audience_names() | join(', ')) }}
        {%- endif -%}
        {%- set steps = [] -%}
        {%- for step in entry.steps -%}
            {%- set step_where = where ~ ' steps[' ~ loop.index0 ~ ']' -%}
            {%- for required in ['step', 'wait_minutes', 'validity_minutes'] if required not in step -%}
                {{ exceptions.raise_compiler_error(step_where ~ ': `' ~ required ~ '` is required (null validity_minutes: no limit)') }}
            {%- endfor -%}
            {%- set channels = step.get('channels') or registry -%}
            {%- for channel in channels if channel not in registry -%}
                {{ exceptions.raise_compiler_error(step_where ~ ': channel ' ~ channel ~ ' is not in cdp__channels (' ~ registry | join(', ') ~ ')') }}
            {%- endfor -%}
            {%- set offer = step.get('offer') or {} -%}
            {%- do steps.append({
                'step': step.step | int,
                'wait_minutes': step.wait_minutes | int,
                'validity_minutes': step.validity_minutes,
                'channels': channels,
                'offer_key': offer.get('key'),
                'offer_window_days': offer.get('window_days'),
                'escalate_within_minutes': step.get('escalate_if_no_engagement_within')}) -%}
        {%- endfor -%}
        {%- do journeys.append({
            'journey': entry.journey,
            'purpose': entry.purpose,
            'priority': entry.priority | int,
            'entry_kind': kind,
            'audience': entry.entry.get('audience'),
            'n': entry.entry.get('n'),
            'within_days': entry.entry.get('within_days'),
            'goal': entry.goal,
            'reentry_gap_days': entry.reentry_gap_days | int,
            'sources': entry.sources,
            'holdout_share': entry.get('holdout_share', var('cdp__journey_holdout_share')),
            'steps': steps}) -%}
    {%- endfor -%}
    {{ return(journeys) }}
{%- endmacro %}

{#- The most steps any journey has: the plan resolves steps in that many levels. -#}
{% macro cdp_journey_max_steps() -%}
    {{ return(cdp_journeys() | map(attribute='steps') | map('length') | max) }}
{%- endmacro %}

{#- The journey names, in configuration order (accepted values of the plan's journey column). -#}
{% macro cdp_journey_names() -%}
    {{ return(cdp_journeys() | map(attribute='journey') | list) }}
{%- endmacro %}

{#-
    Why a message is suppressed, in the order the plan applies them: the first that
    applies is the row's reason. Eligibility first, then the holdouts (so that held-out
    and treated persons are alike in everything but the message), then offers and caps.
    docs/activation.md explains each; the plan's YAML tests its column against this list.
-#}
{% macro cdp_suppression_reasons() -%}
    {{ return([
        'erased', 'already_sent', 'reentry_gap', 'stale_source', 'goal_reached', 'no_consent', 'no_address',
        'open_support_ticket', 'global_control', 'holdout', 'expired', 'duplicate_offer', 'frequency_cap']) }}
{%- endmacro %}

{#-
    The configured steps as rows (journey, step, purpose, priority, wait_minutes,
    validity_minutes, offer_key, offer_window_days, escalate_within_minutes,
    holdout_share), for the models that plan them and read sends back.
-#}
{% macro cdp_journey_steps_table() -%}
    {%- set null_int = 'cast(null as ' ~ dbt.type_int() ~ ')' -%}
    {%- for journey in cdp_journeys() -%}
        {%- set outer = loop -%}
        {%- for step in journey.steps %}
    select
        '{{ journey.journey }}' as journey,
        {{ step.step }} as step,
        '{{ journey.purpose }}' as purpose,
        {{ journey.priority }} as priority,
        {{ step.wait_minutes }} as wait_minutes,
        {{ step.validity_minutes if step.validity_minutes is not none else null_int }} as validity_minutes,
        {{ "'" ~ step.offer_key ~ "'" if step.offer_key else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as offer_key,
        {{ step.offer_window_days if step.offer_window_days is not none else null_int }} as offer_window_days,
        {{ step.escalate_within_minutes if step.escalate_within_minutes is not none else null_int }} as escalate_within_minutes,
        cast({{ journey.holdout_share }} as {{ dbt.type_float() }}) as holdout_share
            {%- if not (loop.last and outer.last) %}
    union all
            {%- endif %}
        {%- endfor -%}
    {%- endfor %}
{%- endmacro %}

{#-
    The channels each step may use, with the registry's intrusiveness and position
    (journey, step, channel, intrusiveness, channel_index).
-#}
{% macro cdp_journey_step_channels_table() -%}
    {%- set intrusiveness = {} -%}
    {%- set positions = {} -%}
    {%- for channel in cdp_channels() -%}
        {%- do intrusiveness.update({channel.channel: channel.intrusiveness}) -%}
        {%- do positions.update({channel.channel: loop.index0}) -%}
    {%- endfor -%}
    {%- for journey in cdp_journeys() -%}
        {%- set outer_journey = loop -%}
        {%- for step in journey.steps -%}
            {%- set outer_step = loop -%}
            {%- for channel in step.channels %}
    select '{{ journey.journey }}' as journey, {{ step.step }} as step, '{{ channel }}' as channel,
        {{ intrusiveness[channel] }} as intrusiveness, {{ positions[channel] }} as channel_index
                {%- if not (loop.last and outer_step.last and outer_journey.last) %}
    union all
                {%- endif %}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor %}
{%- endmacro %}
