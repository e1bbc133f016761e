{#
    The channel registry (var cdp__channels in dbt_project.yml), checked once: every
    entry has the fields the models rely on, names are unique, ranks are whole numbers,
    an address field is one the models can find (cdp_person_addresses). A mistake stops
    the build with a message that names the entry and the field.
#}
{% macro cdp_channels() -%}
    {%- set channels = [] -%}
    {%- set names = [] -%}
    {%- set known_address_fields = cdp_golden_record_address_fields() -%}
    {%- for source in var('cdp__identity_sources') -%}
        {%- do known_address_fields.extend(source.identifiers) -%}
    {%- endfor -%}
    {%- for entry in var('cdp__channels') -%}
        {%- set where = 'cdp__channels[' ~ loop.index0 ~ ']' -%}
        {%- for required in ['channel', 'consent_column', 'transactional_consent_column', 'identifier_types', 'intrusiveness', 'reachability'] -%}
            {%- if entry[required] is not defined or entry[required] is none -%}
                {{ exceptions.raise_compiler_error(where ~ ': `' ~ required ~ '` is required') }}
            {%- endif -%}
        {%- endfor -%}
        {%- if entry.channel in names -%}
            {{ exceptions.raise_compiler_error(where ~ ': channel ' ~ entry.channel ~ ' is listed twice') }}
        {%- endif -%}
        {%- if entry.intrusiveness is not number or entry.intrusiveness < 1 -%}
            {{ exceptions.raise_compiler_error(where ~ ': intrusiveness must be a whole number from 1') }}
        {%- endif -%}
        {%- if entry.get('address_field') is not none and entry.address_field not in known_address_fields -%}
            {{ exceptions.raise_compiler_error(where ~ ': address_field ' ~ entry.address_field ~ ' is neither a contact of the golden record (' ~ cdp_golden_record_address_fields() | join(', ') ~ ') nor an identifier type an identity source carries (cdp__identity_sources)') }}
        {%- endif -%}
        {%- do names.append(entry.channel) -%}
        {%- do channels.append({
            'channel': entry.channel,
            'consent_column': entry.consent_column,
            'transactional_consent_column': entry.transactional_consent_column,
            'address_field': entry.get('address_field'),
            'identifier_types': entry.identifier_types,
            'intrusiveness': entry.intrusiveness | int,
            'reachability': entry.reachability}) -%}
    {%- endfor -%}
    {{ return(channels) }}
{%- endmacro %}

{#- The channel names, in registry order (the order of dim_persons' consent columns). -#}
{% macro cdp_message_channels() -%}
    {{ return(cdp_channels() | map(attribute='channel') | list) }}
{%- endmacro %}

{#- The registry entry of the channel `name`; a name the registry does not hold stops the build. -#}
{% macro cdp_channel(name) -%}
    {%- for channel in cdp_channels() if channel.channel == name -%}
        {{ return(channel) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('channel ' ~ name ~ ' is not in cdp__channels (' ~ cdp_message_channels() | join(', ') ~ ')') }}
{%- endmacro %}

{#- The dim_persons column holding the person's `purpose` (marketing or transactional) consent on channel `name`. -#}
{% macro cdp_consent_column(name, purpose='marketing') -%}
    {%- if purpose not in ['marketing', 'transactional'] -%}
        {{ exceptions.raise_compiler_error('consent purpose ' ~ purpose ~ ' is neither marketing nor transactional') }}
    {%- endif -%}
    {%- set channel = cdp_channel(name) -%}
    {{ return(channel.consent_column if purpose == 'marketing' else channel.transactional_consent_column) }}
{%- endmacro %}

{#-
    The consent flag of the channel named by `channel_expression`, read from the row of
    dim_persons aliased `persons_alias`: the one place that maps a channel value to its
    consent column.
-#}
{% macro cdp_consent_for_channel(channel_expression, persons_alias, purpose='marketing') -%}
    case {{ channel_expression }}
        {%- for channel in cdp_channels() %}
        when '{{ channel.channel }}' then {{ persons_alias }}.{{ cdp_consent_column(channel.channel, purpose) }}
        {%- endfor %}
    end
{%- endmacro %}

{#- True when the person (dim_persons row `persons_alias`) consented to at least one of `channels`. -#}
{% macro cdp_has_consent_on(channels, persons_alias, purpose='marketing') -%}
    ({% for name in channels %}{{ persons_alias }}.{{ cdp_consent_column(name, purpose) }}{{ ' or ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#-
    True when the person consented to one of `channels` and can be reached there: the
    channel's address field is known in the row aliased `addresses_alias` (a row of
    cdp_person_addresses, or of dim_persons for channels addressed by e-mail or phone).
-#}
{% macro cdp_can_message_on(channels, persons_alias, addresses_alias) -%}
    (
        {%- for name in channels %}
        ({{ persons_alias }}.{{ cdp_consent_column(name) }} and {{ cdp_address_is_known(name, addresses_alias) }})
        {{- ' or' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Whether the person can be reached on the channel named by `channel_expression` (see cdp_address_is_known). -#}
{% macro cdp_channel_is_reachable(channel_expression, addresses_alias) -%}
    case {{ channel_expression }}
        {%- for channel in cdp_channels() %}
        when '{{ channel.channel }}' then {{ cdp_address_is_known(channel.channel, addresses_alias) }}
        {%- endfor %}
    end
{%- endmacro %}

{#-
    Whether the row aliased `addresses_alias` holds an address for channel `name`. A
    channel without an address field (web push: the provider addresses the person by
    person_id) always has one.
-#}
{% macro cdp_address_is_known(name, addresses_alias) -%}
    {%- set address_field = cdp_channel(name).address_field -%}
    {{ addresses_alias ~ '.' ~ address_field ~ ' is not null' if address_field else 'true' }}
{%- endmacro %}

{#- The address fields of `channels` (default: every channel), each once, in registry order. -#}
{% macro cdp_address_fields(channels=none) -%}
    {%- set fields = [] -%}
    {%- for name in channels or cdp_message_channels() -%}
        {%- set address_field = cdp_channel(name).address_field -%}
        {%- if address_field and address_field not in fields -%}
            {%- do fields.append(address_field) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(fields) }}
{%- endmacro %}

{#- Address fields that dim_persons holds once per person, from the golden record. -#}
{% macro cdp_golden_record_address_fields() -%}
    {{ return(['email', 'phone']) }}
{%- endmacro %}

{#-
    A select of one row per person of dim_persons with the address fields of `channels`
    (default: every channel): e-mail and phone from the golden record; any other field is
    an identifier type a person may hold several of (push tokens), and the most recently
    seen one is the address.
-#}
{% macro cdp_person_addresses(channels=none) -%}
    {%- set fields = cdp_address_fields(channels) -%}
    {%- set identifier_fields = [] -%}
    {%- for field in fields if field not in cdp_golden_record_address_fields() -%}
        {%- do identifier_fields.append(field) -%}
    {%- endfor -%}
    select
        persons.person_id
        {%- for field in fields %},
        {{ 'persons.' ~ field if field in cdp_golden_record_address_fields() else 'latest_' ~ field ~ '.identifier_value' }} as {{ field }}
        {%- endfor %}
    from {{ ref('dim_persons') }} as persons
    {%- for field in identifier_fields %}
    left join (
        select
            person_id,
            identifier_value,
            row_number() over (partition by person_id order by last_seen_at desc, identifier_value asc) as recency_rank
        from {{ ref('bdg_person_identifiers') }}
        where identifier_type = '{{ field }}'
    ) as latest_{{ field }}
        on persons.person_id = latest_{{ field }}.person_id and latest_{{ field }}.recency_rank = 1
    {%- endfor %}
{%- endmacro %}
