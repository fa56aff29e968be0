-- Stage 5: the rows of the items in the wanted categories (table recon_wanted), and for rows
-- without counterpart the closest row of the other side with the same reference (or, for a
-- statement row, a batch with that group_ref), so the reason can say it lies outside the window.

CREATE TABLE recon_x AS
SELECT * FROM recon_rows WHERE category IN (SELECT category FROM recon_wanted);

CREATE TABLE recon_gap AS
SELECT r.side, r.source, r.row_no, MIN(ABS(p.s_t - r.t)) AS gap_us
FROM recon_x r
JOIN recon_p p ON p.s_reference = r.reference AND p.i_reference IS NULL
WHERE r.side = 'internal' AND r.why = 'alone'
GROUP BY r.side, r.source, r.row_no
UNION ALL
SELECT r.side, r.source, r.row_no, MIN(ABS(p.i_t - r.t)) AS gap_us
FROM recon_x r
JOIN recon_p p ON p.i_reference = r.reference AND p.s_reference IS NULL
WHERE r.side = 'statement' AND r.why = 'alone'
GROUP BY r.side, r.source, r.row_no
UNION ALL
SELECT r.side, r.source, r.row_no, MIN(ABS(p.i_t - r.t)) AS gap_us
FROM recon_x r
JOIN recon_p p ON p.i_group_ref = r.reference AND p.s_reference IS NULL
WHERE r.side = 'statement' AND r.why = 'alone'
GROUP BY r.side, r.source, r.row_no;
