"""MCP toolsets (SPEC 9.2): an MCP server's tools offered to agents, through the `mcp` SDK."""

from tools.mcp.toolset import MCPTool, MCPToolset

__all__ = ["MCPTool", "MCPToolset"]
