"""What entity_swap needs besides spaCy: the entity bank, the gazetteer of places and demonyms,
referents and fine kinds, and the rules that keep junk out."""
