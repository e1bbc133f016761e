{{ cdp_message_sync(['whatsapp'], ['first_name']) }}
