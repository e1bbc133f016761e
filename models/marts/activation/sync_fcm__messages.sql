{{ cdp_message_sync(['app_push'], ['first_name']) }}
