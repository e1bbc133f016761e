{{ cdp_base_line_items('shop', 'order_lines', 'order_id') }}
