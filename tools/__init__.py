"""Tools: the tool interface, built-in tools, MCP toolsets, approvals and sandboxing."""

from tools.base import FunctionTool, Tool, ToolContext, ToolOutput, tool

__all__ = ["FunctionTool", "Tool", "ToolContext", "ToolOutput", "tool"]
