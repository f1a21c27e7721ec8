"""The manipulations, one module each: a ``Stage`` that maps a batch of records to their
manipulated children (see ARCHITECTURE.md, "Where to add")."""
