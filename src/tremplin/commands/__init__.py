"""Command groups of the `tremplin` CLI; each module exposes `register(app)`."""
