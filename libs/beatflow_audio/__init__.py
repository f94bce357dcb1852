"""Audio shared by the model services: decoding and encoding, music theory, analysis."""
