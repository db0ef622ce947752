"""Tools: the tool interface, built-in tools, MCP toolsets, approvals and sandboxing."""
