{{ cdp_message_sync(['email'], ['first_name']) }}
