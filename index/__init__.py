"""Search over the article store: embedders, the dense (FAISS) and keyword (FTS5 BM25) indexes, hybrid search."""
