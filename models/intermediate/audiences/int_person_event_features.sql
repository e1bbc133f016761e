{#
    Recent behaviour per person, for audiences: how often and when the person was seen
    on the web shop and in the app, viewed products, added to a cart, visited a store and
    bought, in the last 7, 30 and 90 days up to cdp__as_of. The windows are part of the
    column names (product_views_7d), so they are fixed here rather than a setting.
    Every person has a row (counts 0, last times null when never), so that a condition
    such as `purchases_90d = 0` holds for a person who never bought.

    Events get their person as purchases do: the CRM key first, then what the event
    itself carries (an e-mail typed in a form; the app's device, then its push token; the
    web cookie last). A store visit is a day with a store sale receipt or an app store
    check-in; a purchase is one of fct_purchases that was not refunded in full.
#}
{%- set windows = [7, 30, 90] -%}
{#- (signal, whether it has a last time: the last purchase is dim_persons.last_purchase_at already) -#}
{%- set signal_kinds = [('web_event', true), ('app_event', true), ('product_view', true), ('add_to_cart', true),
                        ('store_visit', true), ('purchase', false)] -%}
{%- set feature_columns = [] -%}
{%- for signal, has_last_time in signal_kinds -%}
    {%- for window in windows -%}
        {%- set window_start = dbt.dateadd('day', -window, cdp_as_of()) -%}
        {%- set in_window = "signal_kind = '" ~ signal ~ "' and occurred_at > " ~ window_start -%}
        {%- set column = signal ~ 's_' ~ window ~ 'd' -%}
        {%- if signal == 'store_visit' -%}
            {%- set counted = 'count(distinct case when ' ~ in_window ~ ' then cast(occurred_at as date) end)' -%}
        {%- else -%}
            {%- set counted = 'count(case when ' ~ in_window ~ ' then 1 end)' -%}
        {%- endif -%}
        {%- set aggregate = 'cast(' ~ counted ~ ' as ' ~ dbt.type_bigint() ~ ')' -%}
        {%- do feature_columns.append({'aggregate': aggregate ~ ' as ' ~ column,
                                       'per_person': 'coalesce(features.' ~ column ~ ', 0) as ' ~ column}) -%}
    {%- endfor -%}
    {%- if has_last_time -%}
        {%- set column = 'last_' ~ signal ~ '_at' -%}
        {%- set latest = "max(case when signal_kind = '" ~ signal ~ "' then occurred_at end)" -%}
        {%- do feature_columns.append({'aggregate': latest ~ ' as ' ~ column,
                                       'per_person': 'features.' ~ column}) -%}
    {%- endif -%}
{%- endfor %}

with persons as (
    select distinct person_id from {{ ref('bdg_person_identifiers') }}
),

web_events_attributed as (
    select * from {{ ref('int_person_site_events') }}
    where site = 'web'
),

app_events_attributed as (
    select * from {{ ref('int_person_site_events') }}
    where site = 'app'
),

purchases as (
    select * from {{ ref('fct_purchases') }}
    where person_id is not null and purchased_at <= {{ cdp_as_of() }}
),

-- one row per (signal, moment): an app product view is both an app event and a product view
signals as (
    select
        person_id,
        'web_event' as signal_kind,
        occurred_at
    from web_events_attributed
    union all
    select
        person_id,
        'app_event' as signal_kind,
        occurred_at
    from app_events_attributed
    union all
    select
        person_id,
        event_type as signal_kind,
        occurred_at
    from web_events_attributed
    where event_type in ('product_view', 'add_to_cart')
    union all
    select
        person_id,
        event_type as signal_kind,
        occurred_at
    from app_events_attributed
    where event_type in ('product_view', 'add_to_cart', 'store_visit')
    union all
    -- a store receipt is a visit even when everything bought was brought back later
    select
        person_id,
        'store_visit' as signal_kind,
        purchased_at as occurred_at
    from purchases
    where channel = 'store'
    union all
    select
        person_id,
        'purchase' as signal_kind,
        purchased_at as occurred_at
    from purchases
    where not is_fully_returned
),

features as (
    select
        person_id,
        {{ feature_columns | map(attribute='aggregate') | join(',\n        ') }}
    from signals
    where person_id is not null
    group by person_id
),

person_features as (
    select
        persons.person_id,
        {{ feature_columns | map(attribute='per_person') | join(',\n        ') }}
    from persons
    left join features on persons.person_id = features.person_id
)

select * from person_features
