"""RAG: sources, parsers, chunkers, embedders, vector stores (pgvector default) and retrieval."""
