SELECT side, source, row_no, MIN(gap_us) AS gap_us FROM recon_gap GROUP BY side, source, row_no
