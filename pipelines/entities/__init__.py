"""What entity_swap needs besides spaCy: the bank of entities it draws replacements from."""
