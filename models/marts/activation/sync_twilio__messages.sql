{{ cdp_message_sync(['sms'], ['phone', 'first_name']) }}
