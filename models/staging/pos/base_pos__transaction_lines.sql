{{ cdp_base_line_items('pos', 'pos_lines', 'receipt_id') }}
