-- Rows, gross amounts and items per category, side and currency (batches counted in q_batches),
-- the clean one-to-one matches included.
SELECT category, side, currency, COUNT(*) AS n_rows, SUM(amount) AS amount, SUM(lead) AS items
FROM recon_rows
GROUP BY category, side, currency
UNION ALL
SELECT 'matched', 'internal', i_currency, SUM(n), SUM(i_amount), SUM(n) FROM recon_clean GROUP BY i_currency
UNION ALL
SELECT 'matched', 'statement', s_currency, SUM(n), SUM(s_amount), 0 FROM recon_clean GROUP BY s_currency
