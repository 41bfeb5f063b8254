"""Text generation backends: llama.cpp (GGUF), transformers, and any OpenAI-compatible endpoint."""
