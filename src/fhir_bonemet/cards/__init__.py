"""CDS Hooks cards from an Assessment: one card per concern, its detail and its suggestions."""
