{{ cdp_message_sync(['app_push'], ['push_token', 'first_name']) }}
