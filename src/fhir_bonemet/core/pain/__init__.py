"""Pain management, pharmacovigilance and bone-modifying agents."""
