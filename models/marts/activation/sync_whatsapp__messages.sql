{{ cdp_message_sync(['whatsapp'], ['phone', 'first_name']) }}
