"""Rate limits shared by every worker, counted in the database."""
