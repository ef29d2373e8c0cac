"""Helpers the test tiers share: local servers (Azurite) and the like."""
