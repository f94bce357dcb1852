"""The separator service: stem separation, audio analysis, mixdown and format conversion."""
