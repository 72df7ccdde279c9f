"""Small shared helpers: atomic file writes, progress bars, child seeds (``seeding``), the
``Registry`` of by-name choices, natural sort order, lazy package attributes, typed dicts."""
