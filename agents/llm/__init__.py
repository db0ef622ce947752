"""LLM providers (anthropic, openai, gemini, ollama) behind one interface, and their config."""
