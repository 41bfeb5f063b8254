"""A local transformers causal LM directory, streamed with TextIteratorStreamer from a generation thread.

torch and transformers are imported where they are used: 2–4 s of start-up that only this backend should pay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.generation import GeneratorError, Loaded, Messages, cut_at_stop, load_once, softmax_pick, top_logprobs


class TransformersGenerator:
    """A local transformers causal LM directory, streamed with TextIteratorStreamer from a generation thread.

    torch and transformers are imported where they are used: 2–4 s of start-up that only this backend should pay.
    """

    def __init__(self, model_path: Path, *, n_threads: int = 0) -> None:
        self.model_path = Path(model_path)
        self.n_threads = n_threads
        self.name = f"transformers:{self.model_path.name}"

    def _load(self) -> Any:
        if not self.model_path.is_dir():
            raise GeneratorError(
                f"transformers model directory {self.model_path} not found; set "
                "generator.model_path to a local model directory (models are never downloaded)"
            )
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise GeneratorError(
                f"the transformers backend needs transformers and torch ({exc}); "
                "install them with: pip install -e '.[hf]'"
            ) from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise GeneratorError(f"cannot load transformers model from {self.model_path}: {exc}") from exc
        if tokenizer.chat_template is None:
            raise GeneratorError(f"{self.model_path}: the tokenizer has no chat template; use an instruct model")
        model.eval()
        return tokenizer, model

    def loaded(self) -> Loaded:
        return load_once(("transformers", str(self.model_path.resolve())), self._load)

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Iterator[str]:
        loaded = self.loaded()
        return cut_at_stop(self._stream(loaded, messages, max_tokens, temperature), stop)

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]:
        """Probability of each option's first token as the first token of the reply (one forward pass)."""
        tokenizer, _ = self.loaded().model
        ids = {o: tokenizer.encode(o, add_special_tokens=False)[0] for o in options}
        return softmax_pick(self._first_logits(messages), ids)

    def first_token_logprobs(self, messages: Messages, top_n: int) -> tuple[list[tuple[str, float]], dict[str, Any]]:
        """The `top_n` likeliest first tokens of the reply with their log-probabilities (one forward pass)."""
        tokenizer, _ = self.loaded().model
        top = [(tokenizer.decode([i]), lp) for i, lp in top_logprobs(self._first_logits(messages), top_n)]
        return top, {}

    def _first_logits(self, messages: Messages) -> Any:
        import torch

        loaded = self.loaded()
        tokenizer, model = loaded.model
        with loaded.lock, torch.inference_mode():
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return model(**inputs).logits[0, -1].float().numpy()

    def warm_up(self, text: str, gen_tokens: int = 8) -> dict[str, float]:
        """Load the model and time one short reply, so the first question does not pay for either."""
        start = time.perf_counter()
        reply = "".join(self.stream([{"role": "user", "content": text}], max_tokens=gen_tokens))
        return {"seconds": round(time.perf_counter() - start, 2), "chars": len(reply)}

    def _stream(self, loaded: Loaded, messages: Messages, max_tokens: int, temperature: float) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = loaded.model
        halt = threading.Event()  # set when the consumer stops reading, so generation does not run on

        class _Halt(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return halt.is_set()

        with loaded.lock:
            if self.n_threads > 0:
                torch.set_numdefault_threads(self.n_threads)
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
            options: dict[str, Any] = {
                "max_new_tokens": max_tokens,
                "streamer": streamer,
                "stopping_criteria": StoppingCriteriaList([_Halt()]),
                "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
            }
            if temperature > 0:
                options.update(do_sample=True, temperature=temperature)
            else:
                options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            failure: list[BaseException] = []

            def run() -> None:
                try:
                    with torch.inference_mode():
                        model.generate(**inputs, **options)
                except BaseException as exc:  # reported to the consumer below
                    failure.append(exc)
                    streamer.end()

            worker = threading.Thread(target=run, name="newsqa-generate", daemon=True)
            worker.start()
            try:
                for text in streamer:
                    if text:
                        yield text
            finally:
                halt.set()
                worker.join()
            if failure:
                raise GeneratorError(f"{self.name}: generation failed: {failure[0]}") from failure[0]
