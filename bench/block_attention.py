"""Would answers hold if each passage were read on its own? The quality side of reading passages ahead of time.

    .venv/bin/python bench/block_attention.py [--sets sample rgb] [--rgb-limit 60] [--mode block] [--out F.json]

On a 2-core CPU most of a fresh question's wait is the model reading its passages. A passage could be read once,
when it is indexed, and its evaluated state reused by every question that retrieves it, but only if it is read
alone: after the system prompt, attending to nothing of the other passages the question happens to bring (block
attention). This bench answers the sample set and rgb_zh's first 60 with the local model in this process, the
passages of every prompt read that way (`--mode block`: each passage in a llama.cpp sequence of its own that sees
the system prompt and itself, read at the first passage's place, then moved to its own place and handed to the main
sequence, so that the question and the answer attend to all of them) or as the app reads them (`--mode full`). It
prints the quality of the run and the passages' share of each prompt, which a question would then not read.

It measures quality, not time: every passage is still read here, in more, smaller batches.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from assistant.backends.llama import LlamaGenerator  # noqa: E402
from assistant.kernels import KernelPlan  # noqa: E402
from assistant.prompts import ANSWER_SYSTEM, SOURCE_CLOSE, SOURCE_OPEN  # noqa: E402
from bench.latency import SETS, latency_row  # noqa: E402
from core.config import load_settings  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.runner import open_target, run, summarize  # noqa: E402

OPEN = SOURCE_OPEN.split("{")[0]  # the opening tag up to its number
SEQUENCES = 8  # the main sequence and one a passage, reused; more than the 4 passages a prompt holds


@contextmanager
def _sequences(n: int) -> Iterator[None]:
    """Contexts made inside hold `n` sequences in one KV cache (cells can belong to several)."""
    import llama_cpp.llama_cpp as llama_cpp  # the module llama_cpp.Llama takes its defaults from

    default = llama_cpp.llama_context_default_params

    def params() -> Any:
        p = default()
        p.n_seq_max, p.kv_unified = n, True
        return p

    llama_cpp.llama_context_default_params = params
    try:
        yield
    finally:
        llama_cpp.llama_context_default_params = default


def passage_spans(llm: Any, prompt: str, tokens: Sequence[int]) -> list[tuple[int, int]] | None:
    """(start, end) token indexes of each passage block of the prompt, contiguous from the first `<资料 …>` to the
    last `</资料>`; None where the tokens do not spell the prompt byte for byte."""
    ends, total = [], 0
    for t in tokens:
        total += len(llm.detokenize([t], special=True))
        ends.append(total)
    data = prompt.encode("utf-8")
    if total != len(data):
        return None

    def token_at(offset: int) -> int:  # the token holding byte `offset`
        return next(i for i, end in enumerate(ends) if end > offset)

    rules = data.find(ANSWER_SYSTEM.encode())  # rule 5 names the tags too: passages start after the rules
    starts, pos = [], 0 if rules < 0 else rules + len(ANSWER_SYSTEM.encode())
    while (found := data.find(OPEN.encode(), pos)) >= 0:
        starts.append(token_at(found))
        pos = found + 1
    if not starts:
        return []
    last_close = data.rfind(SOURCE_CLOSE.encode())
    stop = token_at(last_close + len(SOURCE_CLOSE.encode()) - 1) + 1
    bounds = [*starts, stop]
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts))]


class BlockAttention(LlamaGenerator):
    """The llama backend, with the passages of each judgement prompt (the first call of a question, which the answer
    then continues) read each on its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unsplit = 0  # prompts whose tokens did not map onto their text: read as the app does
        self.passage_tokens: list[int] = []  # of each judgement prompt: what reading ahead would take off

    def _load(self) -> Any:
        with _sequences(SEQUENCES):
            return super()._load()

    def _read(self, llm: Any, prompt: str, tokens: Sequence[int], shared: int) -> None:
        spans = passage_spans(llm, prompt, tokens)
        if not spans:  # no passage, or tokens that do not spell the prompt: read as the app does
            self.unsplit += spans is None
            self.passage_tokens.append(0)
            super()._read(llm, prompt, tokens, shared)
            return
        first, last = spans[0][0], spans[-1][1]
        self.passage_tokens.append(last - first)
        for start, end in spans:  # a cached state that ends inside a passage: read that passage again, whole
            if start < shared < end:
                shared = start
        llm.n_tokens = shared
        if shared < first:
            llm.eval(tokens[shared:first])
        for start, end in spans:
            if end > shared:
                self._read_alone(llm, tokens, start, end, first)
        llm.eval(tokens[max(shared, last) :])

    @staticmethod
    def _read_alone(llm: Any, tokens: Sequence[int], start: int, end: int, first: int, seq: int = 1) -> None:
        """Read tokens[start:end] in sequence `seq`, which sees only what precedes the first passage, as if it were
        the first passage; then move its cells to their place in the prompt (llama.cpp rotates the cached keys by
        the shift) and give them to the main sequence (0). This is what a passage read once at indexing time and
        reused wherever a prompt puts it would be."""
        import llama_cpp

        ctx, batch = llm._ctx, llm._batch
        llama_cpp.llama_memory_seq_rm(ctx.memory, -1, start, -1)
        ctx.kv_cache_seq_cp(0, seq, 0, first)
        n = end - start
        for i in range(0, n, llm.n_batch):
            part = tokens[start + i : start + min(n, i + llm.n_batch)]
            batch.batch.n_tokens = len(part)
            for k, token in enumerate(part):
                batch.batch.token[k] = token
                batch.batch.pos[k] = first + i + k
                batch.batch.seq_id[k][0] = seq
                batch.batch.n_seq_id[k] = 1
                batch.batch.logits[k] = k == len(part) - 1
            ctx.decode(batch)
        if start != first:
            llama_cpp.llama_memory_seq_add(ctx.memory, seq, first, first + n, start - first)
        ctx.kv_cache_seq_cp(seq, 0, start, end)
        llama_cpp.llama_memory_seq_rm(ctx.memory, seq, -1, -1)
        llm.input_ids[start:end] = tokens[start:end]
        llm.n_tokens = end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["sample", "rgb"], choices=sorted(SETS))
    parser.add_argument("--rgb-limit", type=int, default=60)
    parser.add_argument("--mode", choices=["block", "full"], default="block")
    parser.add_argument("--home", type=Path, required=True, help="data directory (its eval cache and kernel choice)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    base = load_settings()
    settings = base.override({"home": str(args.home)})
    model = (
        Path(base.generator.model_path)
        if base.generator.model_path
        else base.models_dir / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    )
    choice = json.loads((args.home / "run" / "kernels.json").read_text())
    chosen = next(iter(choice.values()))["plan"]  # the plan the model server chose on this machine
    maker = BlockAttention if args.mode == "block" else LlamaGenerator
    generator = maker(model, n_ctx=settings.generator.n_ctx, plan=KernelPlan(**chosen))
    result: dict[str, Any] = {"mode": args.mode, "plan": chosen}
    for name in args.sets:
        questions_path, corpus, corpus_date, source = SETS[name]
        if not questions_path.is_file():
            result[name] = {"skipped": f"{questions_path} is missing"}
            continue
        questions = load_questions(questions_path)
        questions = questions[: args.rgb_limit] if name == "rgb" else questions
        target = open_target(settings, corpus=corpus, corpus_date=corpus_date, corpus_source=source)
        try:
            target.assistant.generator = generator
            records, wall_s = run(questions, searcher=target.searcher, assistant=target.assistant, progress=True)
        finally:
            target.close()
        row = latency_row(records, summarize(records, wall_s, {"set": name}))
        row["answerable_p_mean"] = round(
            float(np.mean([r["answerable_p"] for r in records if r.get("answerable_p") is not None])), 3
        )
        if isinstance(generator, BlockAttention):
            row["prompts_read_as_usual"] = generator.unsplit
            row["passage_tokens_mean"] = round(float(np.mean(generator.passage_tokens)), 1)
            generator.passage_tokens.clear()
        result[name] = {"row": row, "records": records}
        print(json.dumps({name: row}, ensure_ascii=False), file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
