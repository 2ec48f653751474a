"""Inbound event validation, rules validation and the exported JSON Schemas."""
