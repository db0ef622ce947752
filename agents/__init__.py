"""Hector runtime: configuration schema, agent types, runner and instruction templating.

This package never imports Django (see STYLE.md section 1); the Django side reaches it through
small interfaces it defines.
"""
