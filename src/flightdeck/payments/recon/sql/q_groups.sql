-- Figures of the groups in the wanted categories (for the reasons).
SELECT kind, gkey, i_n, i_gross, i_exp_fee, i_exp_net, i_cur_lo, i_cur_hi, i_st_lo, i_st_hi, s_n, s_gross,
    s_fee, s_net, s_cur_lo, s_cur_hi, s_st_lo, s_st_hi
FROM recon_p
WHERE grp = 1 AND category IN (SELECT category FROM recon_wanted)
UNION ALL
SELECT kind, gkey, i_n, i_gross, i_exp_fee, i_exp_net, i_cur_lo, i_cur_hi, i_st_lo, i_st_hi, s_n, s_gross,
    s_fee, s_net, s_cur_lo, s_cur_hi, s_st_lo, s_st_hi
FROM recon_gcat
WHERE kind = 'r' AND category IN (SELECT category FROM recon_wanted)
UNION ALL
SELECT kind, gkey, i_n, i_gross, i_exp_fee, i_exp_net, i_cur_lo, i_cur_hi, i_st_lo, i_st_hi, s_n, s_gross,
    s_fee, s_net, s_cur_lo, s_cur_hi, s_st_lo, s_st_hi
FROM recon_gcat
WHERE kind = 'b' AND category IN (SELECT category FROM recon_wanted)
