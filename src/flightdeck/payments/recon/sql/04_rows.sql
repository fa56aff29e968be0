-- Stage 4: every input row, once, with the category of the item it belongs to (a view: the
-- summary and the extraction of exceptions each read it once).
--
-- item_kind: 'p' / 'r' reference group, 'b' batch (item_key: the reference or group_ref), 'i' / 's'
-- an item of one internal / statement row. why: 'group' (member of a group), 'copy' (an exact
-- repeat), 'extra' (a further internal row of a reference), 'split_off' (a further statement row
-- while split matching is off), 'alone' (no counterpart). lead = 1 on one row of every item except
-- batches (counted from recon_bg). Clean one-to-one matches are not here: recon_clean counts them.
-- Rules for rows outside groups: internal alone -> missing_in_statement if succeeded or refunded,
-- matched if pending or failed (nothing settled, as expected); further internal rows of a
-- reference -> duplicate if succeeded or refunded (a second payment under one reference), matched
-- if pending or failed (an attempt that settled nothing); statement alone -> missing_internally.

CREATE VIEW recon_rows AS
SELECT 'internal' AS side, g.i_source AS source, g.i_row_no AS row_no, g.gkey AS reference,
    g.i_group_ref AS group_ref, g.i_gross AS amount, g.i_cur_lo AS currency, g.i_st_lo AS status,
    g.i_t AS t, g.category, 'group' AS why, 'p' AS item_kind, g.gkey AS item_key, 1 AS lead
FROM recon_p g WHERE g.grp = 1
UNION ALL
SELECT 'statement', g.s_source, g.s_row_no, g.gkey, CAST(NULL AS VARCHAR), g.s_gross, g.s_cur_lo,
    g.s_st_lo, g.s_t, g.category, 'group', 'p', g.gkey, 0
FROM recon_p g WHERE g.grp = 1
UNION ALL
SELECT 'internal', p.i_source, p.i_row_no, p.i_reference, p.i_group_ref, p.i_amount, p.i_currency,
    p.i_status, p.i_t, g.category, 'group', 'r', g.gkey, 1
FROM recon_ps p JOIN recon_gcat g ON g.kind = 'r' AND g.gkey = p.s_reference
WHERE p.pick = 1
UNION ALL
SELECT 'statement', p.s_source, p.s_row_no, p.s_reference, CAST(NULL AS VARCHAR), p.s_amount,
    p.s_currency, p.s_status, p.s_t,
    CASE WHEN p.in_ref = 1 THEN g.category ELSE 'duplicate' END,
    CASE WHEN p.in_ref = 1 THEN 'group' ELSE 'split_off' END,
    CASE WHEN p.in_ref = 1 THEN 'r' ELSE 's' END,
    CASE WHEN p.in_ref = 1 THEN g.gkey END,
    CASE WHEN p.in_ref = 1 THEN 0 ELSE 1 END
FROM recon_ps p JOIN recon_gcat g ON g.kind = 'r' AND g.gkey = p.s_reference
UNION ALL
SELECT 'internal', p.i_source, p.i_row_no, p.i_reference, p.i_group_ref, p.i_amount, p.i_currency,
    p.i_status, p.i_t, g.category, 'group', 'b', g.gkey, 0
FROM recon_p p JOIN recon_gcat g ON g.kind = 'b' AND g.gkey = p.i_group_ref
WHERE p.grp = 0 AND p.s_reference IS NULL
UNION ALL
SELECT 'statement', b.s_source, b.s_row_no, b.s_reference, CAST(NULL AS VARCHAR), b.s_amount,
    b.s_currency, b.s_status, b.s_t,
    CASE WHEN b.in_batch = 1 THEN g.category ELSE 'duplicate' END,
    CASE WHEN b.in_batch = 1 THEN 'group' ELSE 'split_off' END,
    CASE WHEN b.in_batch = 1 THEN 'b' ELSE 's' END,
    CASE WHEN b.in_batch = 1 THEN g.gkey END,
    CASE WHEN b.in_batch = 1 THEN 0 ELSE 1 END
FROM recon_bs b JOIN recon_gcat g ON g.kind = 'b' AND g.gkey = b.s_reference
UNION ALL
SELECT 'internal', m.source, m.row_no, m.reference, m.group_ref, m.amount, m.currency, m.status, m.t,
    CASE WHEN m.copy_no > 1 OR m.status IN ('succeeded', 'refunded') THEN 'duplicate' ELSE 'matched' END,
    CASE WHEN m.copy_no > 1 THEN 'copy' ELSE 'extra' END, 'i', CAST(NULL AS VARCHAR), 1
FROM recon_im m WHERE m.ref_rank > 1
UNION ALL
SELECT 'statement', m.source, m.row_no, m.reference, m.group_ref, m.amount, m.currency, m.status, m.t,
    'duplicate', 'copy', 's', CAST(NULL AS VARCHAR), 1
FROM recon_sm m WHERE m.copy_no > 1
UNION ALL
SELECT 'internal', p.i_source, p.i_row_no, p.i_reference, p.i_group_ref, p.i_amount, p.i_currency,
    p.i_status, p.i_t,
    CASE WHEN p.i_status IN ('succeeded', 'refunded') THEN 'missing_in_statement' ELSE 'matched' END,
    'alone', 'i', CAST(NULL AS VARCHAR), 1
FROM recon_p p
WHERE p.grp = 0 AND p.s_reference IS NULL
    AND (p.i_group_ref IS NULL OR p.i_group_ref NOT IN (SELECT gkey FROM recon_bg))
UNION ALL
SELECT 'statement', p.s_source, p.s_row_no, p.s_reference, CAST(NULL AS VARCHAR), p.s_amount,
    p.s_currency, p.s_status, p.s_t, 'missing_internally', 'alone', 's', CAST(NULL AS VARCHAR), 1
FROM recon_p p
WHERE p.grp = 0 AND p.i_reference IS NULL
    AND NOT EXISTS (SELECT 1 FROM recon_bs b WHERE b.s_source = p.s_source AND b.s_row_no = p.s_row_no);
