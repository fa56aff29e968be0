SELECT category, COUNT(*) AS n_items FROM recon_gcat WHERE kind = 'b' GROUP BY category
