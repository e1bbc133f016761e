with source as (
    select * from {{ source('loyalty', 'loyalty_points') }}
),

typed as (
    select
        {{ cdp_source_lineage('loyalty', 'loyalty_points') }},
        {{ cdp_clean_text('entry_id') }} as loyalty_point_entry_id,
        {{ cdp_clean_text('loyalty_card_id') }} as loyalty_card_id,
        {{ cdp_try_cast('points', dbt.type_int()) }} as points,
        {{ cdp_clean_enum('reason') }} as reason,
        {{ cdp_parse_timestamp('occurred_at') }} as occurred_at,
        {{ cdp_parse_timestamp('expires_at') }} as expires_at,
        {{ cdp_clean_text('loyalty_card_id') }} as _raw_loyalty_card_id,
        {{ cdp_clean_text('points') }} as _raw_points,
        {{ cdp_clean_text('occurred_at') }} as _raw_occurred_at,
        {{ cdp_clean_text('expires_at') }} as _raw_expires_at
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('expires_at') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['loyalty_point_entry_id'],
        checks=cdp_check_key(['loyalty_point_entry_id'])
            + cdp_check_required('loyalty_card_id')
            + cdp_check_required('points')
            + cdp_check_enum('reason', 'loyalty', 'loyalty_points')
            + cdp_check_required('occurred_at')
            + cdp_check_not_after_as_of('occurred_at')
    ) }}
)

select * from checked
