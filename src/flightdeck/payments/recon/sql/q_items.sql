SELECT * FROM recon_x ORDER BY item_kind, item_key, side, source, row_no
