"""Shared by every service: errors, config, JSON codec, Mongo provider, actors, crypto, logging.

Nothing domain-specific lives here.
"""
