"""Exercise safety: skeletal risk per lesion and per person, the site-by-domain matrix, the prescription."""
