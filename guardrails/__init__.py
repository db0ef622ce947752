"""Guardrails: input, output, tool-authorization and moderation checks."""
