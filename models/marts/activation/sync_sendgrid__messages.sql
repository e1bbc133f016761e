{{ cdp_message_sync(['email'], ['email', 'first_name']) }}
