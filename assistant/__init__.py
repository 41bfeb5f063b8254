"""Answering: prompts, generation backends, model provisioning, citations and the chat loop."""
