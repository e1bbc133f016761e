{{ cdp_message_sync(['web_push'], ['first_name']) }}
