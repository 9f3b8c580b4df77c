"""Reports: figures and tables built from results (no computation of their own)."""
