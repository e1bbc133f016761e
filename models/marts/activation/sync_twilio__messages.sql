{{ cdp_message_sync(['sms'], ['first_name']) }}
