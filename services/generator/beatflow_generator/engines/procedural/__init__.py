"""A deterministic procedural composer: drums, bass, chords and melody from prompt keywords."""
