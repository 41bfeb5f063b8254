"""Tests of the generator protocol, the backends (HTTP against a local stub) and the extractive answerer."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.backends.llama import (
    LlamaGenerator,
    PromptStarts,
    _build_context,
    _prompt_cache,
    _restore_longest_prefix,
    _usage,
)
from assistant.backends.openai import API_KEY_ENV, OpenAIGenerator
from assistant.backends.transformers import TransformersGenerator
from assistant.extractive import ExtractiveAnswerer
from assistant.factory import make_generator
from assistant.generation import (
    GeneratorError,
    Loaded,
    LoopWatch,
    choice_probs,
    complete,
    cut_at_stop,
    load_once,
    loop_cut,
    usage_of,
)
from assistant.kernels import KernelPlan
from assistant.models import DEFAULT_MODEL
from assistant.prompts import (
    JUDGE_OPTIONS,
    JUDGE_TASK,
    Source,
    answer_messages,
    lead_messages,
    rewrite_lead_messages,
    rewrite_messages,
)
from assistant.worker import WorkerGenerator
from core.config import ConfigError, GeneratorSettings
from tests.support.generators import FakeGenerator
from tests.support.openai_stub import OpenAIStub

SEED_PAGE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"  # the seed page
MESSAGES = [{"role": "system", "content": "你是新闻助手。"}, {"role": "user", "content": "你好"}]


# --- protocol, helpers, factory --------------------------------------------------------------------------------


def test_complete_joins_the_stream() -> None:
    gen = FakeGenerator(["垃圾分类条例将于2024年9月1日起施行[1]。"])
    assert complete(gen, MESSAGES, max_tokens=32) == "垃圾分类条例将于2024年9月1日起施行[1]。"
    assert gen.last_messages == MESSAGES


@pytest.mark.parametrize(
    "pieces",
    [
        ["答案是", "42", "\n\n问题", "：下一个"],
        ["答案是42\n", "\n问题：下一个"],
        ["答", "案", "是", "4", "2", "\n", "\n", "问", "题"],
    ],
)
def testcut_at_stop_across_piece_boundaries(pieces: list[str]) -> None:
    assert "".join(cut_at_stop(pieces, ["\n\n问题", "<|im_end|>"])) == "答案是42"
    assert "".join(cut_at_stop(pieces, None)) == "".join(pieces)
    assert "".join(cut_at_stop(pieces, ["不存在"])) == "".join(pieces)


def testcut_at_stop_streams_before_the_end() -> None:
    def pieces():
        yield "第一段很长的文字"
        raise AssertionError("read past what was needed")

    assert next(cut_at_stop(pieces(), ["。"])) == "第一段很长的文字"


def test_factory_picks_backend_by_name(tmp_path: Path) -> None:
    llama = make_generator(GeneratorSettings(), tmp_path)
    assert isinstance(llama, WorkerGenerator)  # local models run in a model server child process
    assert llama.worker.spec.engine == "llama" and llama.worker.spec.plan is None  # kernels chosen by probing
    assert llama.worker.spec.model == str(tmp_path / DEFAULT_MODEL.filename)
    assert llama.worker.choice_path == tmp_path.parent / "run" / "kernels.json"
    own = make_generator(GeneratorSettings(model_path=str(tmp_path / "x.gguf")), tmp_path, tmp_path / "r")
    assert own.worker.spec.model == str(tmp_path / "x.gguf") and own.worker.log_path.parent == tmp_path / "r"
    api = make_generator(GeneratorSettings(backend="openai", base_url="http://h:1/v1/", api_model="m"), tmp_path)
    assert isinstance(api, OpenAIGenerator) and api.url == "http://h:1/v1/chat/completions"
    hf = make_generator(GeneratorSettings(backend="transformers", model_path=str(tmp_path)), tmp_path)
    assert isinstance(hf, WorkerGenerator) and hf.worker.spec.engine == "transformers"
    # the passages, each with its 3 neighbours, groups of them, and the start of the follow-up rewrite's prompt
    assert llama.reads_ahead and llama.worker.spec.ahead_states == 32 * (1 + 3) + 160 + 1
    assert "--ahead-states" in llama.worker.spec.command(None)
    assert not hf.reads_ahead  # only the llama engine keeps states read ahead
    assert not make_generator(GeneratorSettings(read_ahead=0), tmp_path).reads_ahead  # no groups without passages
    assert not llama.worker.alive()  # constructing starts nothing
    paired = make_generator(GeneratorSettings(read_ahead=4, read_ahead_groups=5, read_ahead_neighbours=2), tmp_path)
    assert paired.worker.spec.ahead_states == 4 + 4 * 2 + 5 + 1  # each passage alone and with each neighbour


def test_a_fixed_cpu_variant_must_exist_in_the_build(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="generator.cpu_variant 'pentium' is not in this build"):
        make_generator(GeneratorSettings(cpu_variant="pentium"), tmp_path)
    builtin = make_generator(GeneratorSettings(cpu_variant="builtin", extra_buffers=False), tmp_path)
    assert builtin.worker.spec.plan == KernelPlan("builtin", "", False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (GeneratorSettings(backend="extractive"), "ExtractiveAnswerer"),
        (GeneratorSettings(backend="transformers"), "generator.model_path"),
        (GeneratorSettings(backend="openai", base_url=""), "generator.base_url"),
    ],
)
def test_factory_errors_are_clear(tmp_path: Path, settings: GeneratorSettings, message: str) -> None:
    with pytest.raises(GeneratorError, match=re.escape(message)):
        make_generator(settings, tmp_path)


def test_an_unknown_backend_is_refused_when_the_settings_are_made() -> None:
    with pytest.raises(ConfigError, match="generator.backend: expected one of 'llama', .*got 'gpt5'"):
        GeneratorSettings(backend="gpt5")


def test_missing_gguf_says_how_to_pull(tmp_path: Path) -> None:
    gen = make_generator(GeneratorSettings(), tmp_path)  # constructing is fine without the file
    with pytest.raises(GeneratorError, match="newsqa models pull"):
        gen.stream(MESSAGES, max_tokens=4)


class _SpyLock:
    """A lock that counts the callers that found it held: proof that they asked while a model was loading."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.contended = 0

    def __enter__(self) -> _SpyLock:
        if not self._lock.acquire(blocking=False):
            self.contended += 1
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_models_load_once_even_when_asked_concurrently(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.generation

    spy = _SpyLock()
    monkeypatch.setattr(assistant.generation, "_LOADED_LOCK", spy)
    calls: list[int] = []
    start = threading.Barrier(4)

    def loader() -> object:
        calls.append(1)
        deadline = time.monotonic() + 5
        while spy.contended < 3:  # the load lasts until the three others have asked for the same model
            assert time.monotonic() < deadline, "the other callers never asked while the model was loading"
            time.sleep(0.001)
        return object()

    key = ("test", f"load-once-{id(calls)}")
    results: list[Loaded] = []

    def ask() -> None:
        start.wait(5)
        results.append(load_once(key, loader))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and spy.contended == 3
    assert len(results) == 4 and len({id(r.model) for r in results}) == 1


class _ScriptedLlama:
    """Stands in for llama_cpp.Llama: yields chat-completion chunks and records the call."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.kwargs: dict = {}

    def create_chat_completion(self, **kwargs):
        self.kwargs = kwargs
        yield {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
        for p in self.pieces:
            yield {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        yield {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def test_llama_stream_reads_deltas_and_holds_the_model_lock(tmp_path: Path) -> None:
    fake = _ScriptedLlama(["你", "好", "！"])
    loaded = Loaded(fake, threading.Lock())
    gen = LlamaGenerator(tmp_path / "m.gguf")
    gen.loaded = lambda: loaded  # type: ignore[method-assign]
    stream = gen.stream(MESSAGES, max_tokens=7, stop=["。"])
    assert next(stream) == "你"
    assert loaded.lock.locked()  # a second caller waits while this reply is being generated
    assert "".join(stream) == "好！"
    assert not loaded.lock.locked()
    assert fake.kwargs == {"messages": MESSAGES, "stream": True, "max_tokens": 7, "temperature": 0.0, "stop": ["。"]}


def test_llama_prompt_too_long_is_a_generator_error(tmp_path: Path) -> None:
    class TooLong:
        def create_chat_completion(self, **kwargs):
            raise ValueError("Requested tokens (5000) exceed context window of 4096")

    loaded = Loaded(TooLong(), threading.Lock())
    gen = LlamaGenerator(tmp_path / "m.gguf")
    gen.loaded = lambda: loaded  # type: ignore[method-assign]
    with pytest.raises(GeneratorError, match="exceed context window"):
        complete(gen, MESSAGES, max_tokens=4)
    assert not loaded.lock.locked()


# --- openai-compatible HTTP ------------------------------------------------------------------------------------


def test_openai_streams_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with OpenAIStub("常州市生活垃圾分类管理条例将于2024年9月1日起施行[1]。") as stub:
        gen = OpenAIGenerator(stub.base_url, "qwen", timeout_s=5)
        pieces = list(gen.stream(MESSAGES, max_tokens=50, temperature=0.2))
    assert len(pieces) > 5
    assert "".join(pieces) == "常州市生活垃圾分类管理条例将于2024年9月1日起施行[1]。"
    (request,) = stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {
        "messages": MESSAGES,
        "max_tokens": 50,
        "temperature": 0.2,
        "stream": True,
        "model": "qwen",
    }
    assert "Authorization" not in request["headers"]


def test_openai_non_streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with OpenAIStub("不知道。") as stub:
        gen = OpenAIGenerator(stub.base_url, timeout_s=5, streaming=False)
        assert complete(gen, MESSAGES, max_tokens=5) == "不知道。"
    assert stub.requests[0]["body"]["stream"] is False
    assert "model" not in stub.requests[0]["body"]


def test_openai_weighs_options_by_the_endpoints_top_logprobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with OpenAIStub("否", top_logprobs={"否": -0.2, "是": -1.8, "不": -3.0}) as stub:
        probs = choice_probs(OpenAIGenerator(stub.base_url, "m", timeout_s=5), MESSAGES, ("是", "否"))
    assert probs is not None and probs["否"] == pytest.approx(0.8320, abs=1e-3) and sum(probs.values()) == 1.0
    body = stub.requests[0]["body"]
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["stream"] is False


def test_openai_without_logprobs_is_read_by_its_one_token_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with OpenAIStub("是的") as stub:  # this endpoint ignores "logprobs"
        probs = choice_probs(OpenAIGenerator(stub.base_url, timeout_s=5), MESSAGES, ("是", "否"))
    assert probs == {"是": 1.0, "否": 0.0}


def test_choice_probs_is_none_for_a_generator_that_cannot_weigh() -> None:
    assert choice_probs(FakeGenerator(["是"]), MESSAGES, ("是", "否")) is None


def test_openai_sends_key_from_environment_and_never_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "sk-test-秘密".encode().hex())
    with OpenAIStub("好") as stub:
        gen = make_generator(
            GeneratorSettings(backend="openai", base_url=stub.base_url, api_model="m"), Path("/nonexistent")
        )
        assert complete(gen, MESSAGES, max_tokens=5) == "好"
    assert stub.requests[0]["headers"]["Authorization"] == "Bearer " + "sk-test-秘密".encode().hex()
    assert os.environ[API_KEY_ENV] not in repr(gen) + gen.name


def test_openai_cuts_at_stop_even_if_server_ignores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with OpenAIStub("第一句。\n\n问题：第二句") as stub:
        text = complete(OpenAIGenerator(stub.base_url, timeout_s=5), MESSAGES, max_tokens=20, stop=["\n\n问题"])
    assert text == "第一句。"
    assert stub.requests[0]["body"]["stop"] == ["\n\n问题"]


def test_openai_http_error_names_url_and_status() -> None:
    with OpenAIStub("x", status=500) as stub:
        gen = OpenAIGenerator(stub.base_url, timeout_s=5)
        with pytest.raises(GeneratorError, match=r"/v1/chat/completions answered HTTP 500: .*stub failure"):
            complete(gen, MESSAGES, max_tokens=5)


def test_openai_connection_refused_names_url() -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", timeout_s=5)
    with pytest.raises(GeneratorError, match=rf"cannot reach http://127\.0\.0\.1:{port}/v1/chat/completions"):
        complete(gen, MESSAGES, max_tokens=5)


def test_openai_timeout_is_reported() -> None:
    with OpenAIStub("慢", delay_s=1.0) as stub:
        gen = OpenAIGenerator(stub.base_url, timeout_s=0.2)
        with pytest.raises(GeneratorError, match=r"no answer within 0\.2 s"):
            complete(gen, MESSAGES, max_tokens=5)


# --- transformers ----------------------------------------------------------------------------------------------


def test_transformers_missing_directory_is_clear(tmp_path: Path) -> None:
    gen = TransformersGenerator(tmp_path / "nope")
    with pytest.raises(GeneratorError, match="not found.*never downloaded"):
        gen.stream(MESSAGES, max_tokens=4)


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 1-layer Llama with a byte-level tokenizer and a chat template, built offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab["<eos>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", pad_token="<eos>", chat_template=template
    )
    config = transformers.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=vocab["<eos>"],
        pad_token_id=vocab["<eos>"],
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny-lm")
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.mark.model  # not a downloaded model, but importing torch and transformers alone takes ~10 s here
def test_transformers_streams_from_a_local_model(tiny_causal_lm: Path, tmp_path: Path) -> None:
    # the model server's log goes to tmp_path/run, not to the working directory
    gen = make_generator(GeneratorSettings(backend="transformers", model_path=str(tiny_causal_lm)), tmp_path / "models")
    first = complete(gen, MESSAGES, max_tokens=12)
    assert first  # random weights: gibberish, but generated through template, thread and streamer
    assert complete(gen, MESSAGES, max_tokens=12) == first  # greedy decoding is deterministic
    if len(first) >= 4:
        stop = first[2:4]
        assert complete(gen, MESSAGES, max_tokens=12, stop=[stop]) == first[: first.find(stop)]


@pytest.mark.model
def test_transformers_weighs_options_with_one_forward_pass(tiny_causal_lm: Path) -> None:
    import torch

    gen = TransformersGenerator(tiny_causal_lm)  # in process: the test compares with the model's own logits
    probs = choice_probs(gen, MESSAGES, ("a", "b"))
    tokenizer, model = gen.loaded().model
    inputs = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        logits = model(**inputs).logits[0, -1].double()
    a, b = (tokenizer.encode(o, add_special_tokens=False)[0] for o in ("a", "b"))
    expected = float(torch.sigmoid(logits[a] - logits[b]))  # p(a) / (p(a) + p(b)) from the reply's first logits
    assert probs is not None and probs["a"] == pytest.approx(expected, rel=1e-4)
    assert sum(probs.values()) == pytest.approx(1.0)


# --- extractive ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_paragraphs() -> list[str]:
    return [p.strip() for p in SEED_PAGE.read_text(encoding="utf-8").split("\n") if p.strip()]


def _paragraph_with(paragraphs: list[str], needle: str) -> str:
    return next(p for p in paragraphs if needle in p)


def test_extractive_picks_the_date_sentence_and_cites_its_passage(seed_paragraphs: list[str]) -> None:
    passages = [
        _paragraph_with(seed_paragraphs, "规上工业总产值"),
        _paragraph_with(seed_paragraphs, "2024年9月1日起施行"),
        _paragraph_with(seed_paragraphs, "条例明确将生活垃圾分为四类"),
    ]
    answer = ExtractiveAnswerer().answer("垃圾分类条例什么时候施行？", passages)
    first = re.split(r"(?<=[。！？])", answer)[0]
    assert "2024年9月1日起施行[2]。" in first
    assert "本报讯" not in answer  # the byline is not part of the answer
    assert len(re.findall(r"\[\d\]", answer)) <= 3


def test_extractive_answers_when_with_a_day_not_with_any_figure(seed_paragraphs: list[str]) -> None:
    # "约40吨/日的余量，对市区235个小区实行…" shares 实行 and has figures, but no day: "几号" asks for one
    # nor a year alone: "列为2021年立法调研项目…" is when it was planned
    passages = [
        _paragraph_with(seed_paragraphs, "条例明确将生活垃圾分为四类"),
        _paragraph_with(seed_paragraphs, "2021年立法调研项目"),
        _paragraph_with(seed_paragraphs, "2024年9月1日起施行"),
    ]
    best = ExtractiveAnswerer().rank("垃圾分类条例几号开始实行？", passages)[0]
    assert best.passage == 3 and "9月1日起施行" in best.sentence


def test_extractive_prefers_numbers_for_how_many_questions(seed_paragraphs: list[str]) -> None:
    passages = [
        _paragraph_with(seed_paragraphs, "条例明确将生活垃圾分为四类"),
        _paragraph_with(seed_paragraphs, "规上工业总产值"),
    ]
    ranked = ExtractiveAnswerer().rank("市区多少个小区实行厨余垃圾分类收运？", passages)
    assert ranked[0].passage == 1 and "235个小区" in ranked[0].sentence


def test_extractive_quotes_the_count_asked_for_over_a_sentence_repeating_the_topic(seed_paragraphs) -> None:
    passages = [
        _paragraph_with(seed_paragraphs, "2024年9月1日起施行"),
        _paragraph_with(seed_paragraphs, "五十八条"),
    ]
    # every sentence of these passages names the regulation; only one says how many articles it has
    ranked = ExtractiveAnswerer().rank("《常州市生活垃圾分类管理条例》一共有多少条？", passages)
    assert "五十八条" in ranked[0].sentence
    # a count in another unit is no answer to "多少条"
    ranked = ExtractiveAnswerer().rank("《常州市生活垃圾分类管理条例》一共有多少章？", passages)
    assert "九章" in ranked[0].sentence
    ranked = ExtractiveAnswerer().rank("《常州市生活垃圾分类管理条例》有多少名代表？", passages)
    assert all("五十八条" not in r.sentence for r in ranked)


def test_extractive_quotes_the_measure_asked_for_in_one_of_its_units(sample_chunks) -> None:
    """ "口袋公园有多大？" quoted the park's address, which repeats more of the question than "公园面积约7200平方米"."""
    passages = [_paragraph_with(sample_chunks, "口袋公园")]
    assert "7200平方米" in ExtractiveAnswerer().rank("口袋公园有多大？", passages)[0].sentence
    assert "西北角" in ExtractiveAnswerer().rank("口袋公园在哪里？", passages)[0].sentence
    assert all("7200" not in r.sentence for r in ExtractiveAnswerer().rank("口袋公园有多高？", passages))
    assert all("7200" not in r.sentence for r in ExtractiveAnswerer().rank("口袋公园周边有很多大学吗？", passages))


def test_extractive_quotes_who_did_what_is_asked_over_a_sentence_repeating_the_topic(sample_chunks) -> None:
    """ "谁参加了会议？" after "警物联盟是什么？" (searched as "警物联盟 谁参加了会议？") quoted "会议强调，…推动
    “警物联盟”建设…", which repeats the topic; the sentence naming the meeting's guests shares only 参加 and 会议."""
    passages = [_paragraph_with(sample_chunks, "警物联盟")]
    ranked = ExtractiveAnswerer().rank("警物联盟 谁参加了会议？", passages, asked="谁参加了会议？")
    assert ranked[0].sentence == "区领导盛世麟、张征宇参加会议。"
    best = ExtractiveAnswerer().rank("哪位区领导参加了警物联盟部署会？", passages)[0]  # the lead names 习近平
    assert best.sentence == "区领导盛世麟、张征宇参加会议。"
    assert all("盛世麟" not in r.sentence for r in ExtractiveAnswerer().rank("谁主持了警物联盟部署会？", passages))


def test_extractive_quotes_the_quantity_asked_for_with_the_nouns_that_name_it(sample_chunks) -> None:
    """ "2023年武高新新能源产业产值是多少？" quoted the year's sentence on the 总产值 (its 2023 and 武高新 are the
    question's), not the next one, "…新能源产业产值近1300亿元…", which answers it."""
    passages = [_paragraph_with(sample_chunks, "新能源产业产值")]
    best = ExtractiveAnswerer().rank("2023年武高新新能源产业产值是多少？", passages)[0]
    assert "近1300亿元" in best.sentence
    best = ExtractiveAnswerer().rank("武高新2023年规上工业总产值是多少？", passages)[0]
    assert "2000亿元" in best.sentence


def test_extractive_quotes_a_count_stated_in_a_measure_word_of_the_same_kind() -> None:
    """ "每证最多可借几本？" of a library's report that says "每证最多可借图书10册" (a test article), over a sentence
    that only repeats the question with some other number."""
    passages = ["每证最多可借几本，新规定从2月起实行。", "读者凭身份证即可办理借阅证，每证最多可借图书10册，借期30天。"]
    best = ExtractiveAnswerer().rank("每证最多可借几本？", passages)[0]
    assert best.passage == 2 and "10册" in best.sentence


def test_extractive_quotes_the_sentence_with_the_quantity_asked_for(sample_chunks) -> None:
    """ "武进高新区有多少税收？" quoted the dateline sentence, which names the 高新区 in full, not the one with 税收."""
    passages = [_paragraph_with(sample_chunks, "专题调研武进国家高新区"), _paragraph_with(sample_chunks, "税收收入")]
    best = ExtractiveAnswerer().rank("武进高新区有多少税收？", passages)[0]
    assert "税收收入首次突破百亿大关" in best.sentence
    # a bonus, not a rule: a sentence that repeats all of "武进国家高新区" still outweighs it (twice the bonus
    # broke two rgb_zh answers for none fixed)
    assert "乔俊杰" in ExtractiveAnswerer().rank("武进国家高新区的税收是多少？", passages)[0].sentence


def test_extractive_quotes_who_a_person_is_where_the_news_gives_their_posts(sample_chunks) -> None:
    """ "乔俊杰是谁？" quoted "乔俊杰充分肯定了武高新2023年度的整体工作。", the first sentence naming him."""
    passages = [_paragraph_with(sample_chunks, "充分肯定"), _paragraph_with(sample_chunks, "党工委书记乔俊杰")]
    # "是什么职务" once read the name as "乔俊杰是", and quoted the first sentence naming him
    for question in (
        "乔俊杰是谁？",
        "乔俊杰担任什么职务？",
        "乔俊杰是什么职务？",
        "乔俊杰的职务是什么？",
        "乔俊杰是什么身份？",
    ):
        best = ExtractiveAnswerer().rank(question, passages)[0]
        assert best.passage == 2 and "区委书记、武进国家高新区党工委书记乔俊杰" in best.sentence, question
    assert ExtractiveAnswerer().rank("乔俊杰肯定了什么？", passages)[0].passage == 1  # not asked who he is


def test_the_posts_a_sentence_gives_before_a_name() -> None:
    from assistant.extractive import asked_who, posts_of

    lead = "昨天上午，市委常委、区委书记、武进国家高新区党工委书记乔俊杰专题调研武进国家高新区安全生产工作。"
    assert posts_of("乔俊杰", lead) == "市委常委、区委书记、武进国家高新区党工委书记"
    assert posts_of("乔俊杰", "乔俊杰充分肯定了武高新2023年度的整体工作。") == ""
    assert posts_of("李皓", "区领导李皓、孙益锋参加活动。") == ""  # 领导 is no post the list knows
    assert asked_who("乔俊杰是谁？") == ("乔俊杰",) and asked_who("李皓担任什么职务？") == ("李皓",)
    assert asked_who("李皓是什么职务？") == ("李皓",) and asked_who("李皓现任什么职位？") == ("李皓",)
    assert asked_who("乔俊杰调研了哪里？") == () and asked_who("龙城实验室的主任是谁？") == ()


@pytest.fixture(scope="module")
def sample_chunks() -> list[str]:
    from tests.support.news import sample_corpus

    return [c.text for c in sample_corpus()[1]]


def test_extractive_quotes_the_byline_when_asked_who_wrote_the_report(sample_chunks: list[str]) -> None:
    passages = [_paragraph_with(sample_chunks, "新闻发布会"), _paragraph_with(sample_chunks, "九章")]
    for question in ("垃圾分类条例新闻发布会的报道，作者是谁？", "报道垃圾分类条例新闻发布会的记者是谁？"):
        answer = ExtractiveAnswerer().answer(question, passages)
        assert answer.startswith("本报讯（记者 黄雅婷）") and answer.endswith("[1]。"), (question, answer)
    # any other question about it quotes the sentence without the byline, as before
    assert "记者" not in ExtractiveAnswerer().answer("垃圾分类条例什么时候施行？", passages)
    # a press conference is no credit: "记者会" asks about the event
    other = ExtractiveAnswerer().answer("垃圾分类条例的新闻发布会是哪天召开的记者会？", passages)
    assert "本报讯" not in other


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("这篇文章的作者是谁？", "report"),
        ("报道新闻发布会的记者是谁？", "report"),
        ("口袋公园的图片是谁拍的？", "photo"),
        ("华尔街日报记者是谁？", ""),  # a journalist in the news, no credit (rgb_zh asks this)
        ("谁对科技工作者提出了期望？", ""),  # 工作者 is no 作者 (crud asks such questions)
        ("记者会什么时候开？", ""),
    ],
)
def test_a_credit_is_asked_for_of_a_work_that_is_named(question: str, asked: str) -> None:
    from assistant.extractive import asks_for_credit

    assert asks_for_credit(question) == asked


def test_extractive_quotes_the_photo_credit_when_asked_who_took_the_photo(sample_chunks: list[str]) -> None:
    passages = [_paragraph_with(sample_chunks, "烟花爆竹"), _paragraph_with(sample_chunks, "口袋公园")]
    assert ExtractiveAnswerer().answer("口袋公园那组图片的摄影师是谁？", passages) == "陆新 徐晶玮 摄[2]。"
    assert "摄" not in ExtractiveAnswerer().answer("口袋公园的面积有多大？", passages)


def test_extractive_keeps_the_byline_of_a_reporter_the_question_names(sample_chunks: list[str]) -> None:
    passages = [_paragraph_with(sample_chunks, "警物联盟"), _paragraph_with(sample_chunks, "燃放管控工作动员部署会议")]
    answer = ExtractiveAnswerer().answer("何晓丹报道的会议部署了什么工作？", passages)
    assert "（记者 何晓丹）" in answer, answer


def test_a_credit_is_found_in_any_papers_dateline() -> None:
    from assistant.extractive import credited

    assert credited("本报讯（记者 朱梦琪）昨天上午，乔俊杰专题调研") == ("朱梦琪",)
    assert credited("新京报讯（记者曹晶瑞 王巍）7月31日的一场暴雨") == ("曹晶瑞", "王巍")
    assert credited("中新社北京8月11日电 (记者 夏宾)中国央行11日公布数据") == ("夏宾",)
    assert credited("陆新 徐晶玮 摄") == ("陆新", "徐晶玮")
    assert credited("市人大常委会召开新闻发布会（记者会），介绍条例") == ()
    assert credited("昨天上午，乔俊杰专题调研") == ()


def test_extractive_returns_empty_when_nothing_overlaps(seed_paragraphs: list[str]) -> None:
    assert ExtractiveAnswerer().answer("北京冬奥会中国队获得几枚金牌？", seed_paragraphs[:8]) == ""
    assert ExtractiveAnswerer().answer("什么？", seed_paragraphs[:8]) == ""
    assert ExtractiveAnswerer().answer("垃圾分类", []) == ""


def test_extractive_marker_goes_before_the_final_punctuation() -> None:
    answer = ExtractiveAnswerer().answer("新北区图书馆几点开门", ["新北区图书馆每天9点开门；周一闭馆", "无关内容。"])
    assert answer == "新北区图书馆每天9点开门[1]。"


# --- real model ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_gguf(real_model_path: Path) -> Path:
    pytest.importorskip("llama_cpp")
    return real_model_path


@pytest.fixture(scope="module")
def real_llama(real_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real model as the product runs it: in a model server child process, kernels chosen by probing."""
    run_dir = tmp_path_factory.mktemp("run")
    gen = make_generator(GeneratorSettings(model_path=str(real_gguf), n_ctx=1024), real_gguf.parent, run_dir)
    yield gen
    gen.worker.stop()


@pytest.mark.model
def test_llama_real_model_answers_briefly(real_llama: WorkerGenerator) -> None:
    reply = real_llama.stream(
        [{"role": "system", "content": "你是一个简洁的中文助手。"}, {"role": "user", "content": "用一句话介绍常州。"}],
        max_tokens=16,
    )
    pieces = list(reply)
    text = "".join(pieces)
    assert len(pieces) > 1  # streamed, not returned in one piece
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert complete(real_llama, [{"role": "user", "content": "1+1=? 只回答数字。"}], max_tokens=4).strip()[:1] == "2"
    status = real_llama.worker.status()
    assert status.state == "ready" and status.plan is not None and status.warmup["prompt_tps"] > 0
    assert any(t.ok for t in status.choice.trials)


@pytest.mark.model
def test_llama_judges_from_logits_and_the_answer_reuses_the_judged_prefix(real_llama: WorkerGenerator) -> None:
    sources = "资料[1]：常州市生活垃圾分类管理条例将于2024年9月1日起施行。\n问题：条例什么时候施行？\n"
    judge = [{"role": "user", "content": sources + "资料中是否写有答案？只回答“是”或“否”。"}]
    off_topic = [{"role": "user", "content": sources.replace("条例什么时候施行", "北京冬奥会中国队获得几枚金牌")}]
    off_topic[0]["content"] += "资料中是否写有答案？只回答“是”或“否”。"
    yes = choice_probs(real_llama, judge, ("是", "否"))
    no = choice_probs(real_llama, off_topic, ("是", "否"))
    assert yes is not None and no is not None
    assert yes["是"] > 0.5 > no["是"], (yes, no)
    choice_probs(real_llama, judge, ("是", "否"))  # the live context holds the judged prompt again
    reply = real_llama.stream([{"role": "user", "content": sources + "请回答。"}], max_tokens=16)
    text = "".join(reply)
    assert "2024" in text or "9月1日" in text, text
    usage = usage_of(reply)
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached > usage["prompt_tokens"] * 0.6, usage  # the sources were not read again


@pytest.mark.model
def test_llama_prefix_cache_restores_an_earlier_prompt(real_llama: WorkerGenerator) -> None:
    answer = [
        {"role": "system", "content": "你是新闻资料问答助手，只根据资料回答，并用[编号]标注来源。"},
        {"role": "user", "content": "资料[1]：该条例将于2024年9月1日起施行。\n问题：条例什么时候施行？"},
    ]
    other = [{"role": "system", "content": "你负责改写追问。"}, {"role": "user", "content": "它分几类？"}]
    first = complete(real_llama, answer, max_tokens=6)
    complete(real_llama, other, max_tokens=2)  # the live context now holds another prompt
    again = real_llama.stream(answer, max_tokens=6)
    assert "".join(again) == first  # greedy decoding from a restored state gives the same reply
    usage = usage_of(again)
    assert usage["prompt_tokens_details"]["cached_tokens"] >= usage["prompt_tokens"] - 1, usage


def test_llama_cache_keeps_no_logits_copy() -> None:
    """The RAM prompt cache drops the ~311 MB of logits rows each saved state carries (see `_prompt_cache`)."""
    pytest.importorskip("llama_cpp")

    class State:
        def __init__(self) -> None:
            import numpy as np

            self.scores = np.zeros((512, 8))
            self.llama_state_size = 100

    cache = _prompt_cache(1 << 20, 2)
    for key in ((1,), (1, 2), (1, 2, 3)):
        cache[key] = State()
    assert len(cache.cache_state) == 2
    assert all(state.scores.shape[0] == 1 for state in cache.cache_state.values())


def test_states_read_ahead_are_kept_apart_from_the_questions_and_found_as_theirs() -> None:
    pytest.importorskip("llama_cpp")
    import numpy as np

    class State:
        def __init__(self, name: str) -> None:
            self.name = name
            self.scores = np.zeros((512, 8))
            self.llama_state_size = 100

    cache = _prompt_cache(1 << 20, 2, ahead_entries=2)
    for key in ((1, 5), (1, 6), (1, 7)):
        cache.keep_ahead(key, State(f"ahead {key[-1]}"))
    for key in ((1, 2, 3), (1, 2, 4), (1, 2, 5)):
        cache[key] = State(f"question {key[-1]}")
    assert list(cache.ahead) == [(1, 6), (1, 7)]  # the oldest read ahead went; questions push out none of them
    assert list(cache.cache_state) == [(1, 2, 4), (1, 2, 5)]
    assert all(state.scores.shape[0] == 1 for state in cache.ahead.values())
    assert cache[(1, 7, 9, 9)].name == "ahead 7"  # a prompt that starts with a passage read ahead
    assert cache[(1, 2, 4, 9)].name == "question 4"
    assert cache[(1, 9)].name == "question 5"  # a tie: the latest question's state, as without reading ahead
    with pytest.raises(KeyError):
        cache[(2,)]
    assert (1, 6, 0) in cache and (2, 0) not in cache
    off = _prompt_cache(1 << 20, 2)
    off.keep_ahead((1, 5), State("ahead"))
    assert not off.ahead


class _Llm:
    """What `_restore_longest_prefix` touches of a llama_cpp.Llama: the live tokens, the prompt cache, load_state."""

    def __init__(self, live: list[int], cache: object) -> None:
        import numpy as np

        self._input_ids = np.array(live)
        self.cache = cache
        self.loaded: list[object] = []

    def load_state(self, state: object) -> None:
        self.loaded.append(state)
        self._input_ids = state.input_ids


def test_a_judgement_loads_the_cached_state_sharing_more_of_its_prompt() -> None:
    pytest.importorskip("llama_cpp")
    import numpy as np

    class State:
        def __init__(self, tokens: list[int]) -> None:
            self.input_ids = np.array([*tokens, 3, 4, 6])  # llama-cpp-python saves stale tokens past n_tokens
            self.n_tokens = len(tokens)
            self.scores = np.zeros((1, 8))
            self.llama_state_size = 100

    cache = _prompt_cache(1 << 20, 4)
    earlier, other = State([1, 2, 3, 4, 5, 9]), State([1, 7, 7])
    cache[(1, 2, 3, 4, 5, 9)], cache[(1, 7, 7)] = earlier, other
    llm = _Llm([1, 2, 8], cache)
    _restore_longest_prefix(llm, [1, 2, 3, 4, 6])  # the cache shares 4 tokens, the live state 2
    assert llm.loaded == [earlier]
    _restore_longest_prefix(llm, [1, 2, 3, 4, 5, 9, 10])  # the live state shares as much: nothing to load
    assert llm.loaded == [earlier]
    empty = _Llm([1, 2], _prompt_cache(1 << 20, 4))
    _restore_longest_prefix(empty, [1, 2, 3])
    assert empty.loaded == []


def test_a_requests_usage_times_its_prompt_apart_from_the_tokens_it_wrote() -> None:
    log = [(300, 120, 2.4), (420, 1, 0.06), (421, 1, 0.07)]  # (kept, evaluated, seconds): the prompt, then tokens
    usage = _usage(log, completion=True)
    assert usage["prompt_tokens"] == 420 and usage["prompt_tokens_details"] == {"cached_tokens": 300}
    assert usage["completion_tokens"] == 3
    assert usage["timings"] == {"read_ms": 2400.0, "writes": 2, "write_ms": 130.0}
    judged = _usage(log[:1], completion=False)
    assert "completion_tokens" not in judged and judged["timings"] == {"read_ms": 2400.0, "writes": 0, "write_ms": 0}
    assert _usage([], completion=True) == {}


@pytest.mark.model
def test_llama_judgement_reads_only_what_the_prompt_cache_lacks(real_llama: WorkerGenerator) -> None:
    system = {"role": "system", "content": "你是新闻资料问答助手，只根据资料回答，并用[编号]标注来源。"}
    sources = "资料[1]：《常州市生活垃圾分类管理条例》将于2024年9月1日起施行，共九章五十八条，历时3年制定出台。\n"
    answer = [system, {"role": "user", "content": sources + "问题：条例什么时候施行？请回答。"}]
    judge = [system, {"role": "user", "content": sources + "问题：条例一共有多少条？资料中是否写有答案？"}]
    complete(real_llama, answer, max_tokens=4)  # its state goes to the prompt cache
    complete(real_llama, [{"role": "user", "content": "你好"}], max_tokens=2)  # the live state holds another prompt
    health = real_llama.worker.health()
    before, timed = health["tokens"], health["timings"]
    choice_probs(real_llama, judge, ("是", "否"))
    after = real_llama.worker.health()["tokens"]
    prompt, cached = after["prompt"] - before["prompt"], after["cached"] - before["cached"]
    assert cached > prompt * 0.6, (prompt, cached)  # the system prompt and the source came from the cache
    assert timed["writes"] >= 3 and timed["write_ms"] > 0  # the replies' tokens after their first were timed
    assert real_llama.worker.health()["timings"]["read_ms"] > timed["read_ms"]  # and the judgement's reading


@pytest.mark.model
def test_a_question_whose_first_passage_was_read_ahead_reads_only_the_rest(real_llama: WorkerGenerator) -> None:
    law = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行。"
    source = Source(1, "常州市生活垃圾分类管理条例9月1日起施行", "2024-02-02", law)
    other = Source(2, "武高新", "2024-02-02", "2023年武高新规上工业总产值首次踏上2000亿元台阶。")
    usage = real_llama.read_ahead(lead_messages([source]))
    assert usage["prompt_tokens"] > 40, usage
    complete(real_llama, [{"role": "user", "content": "你好"}], max_tokens=2)  # the live state holds another prompt
    before = real_llama.worker.health()["tokens"]
    judge = answer_messages("条例什么时候施行？", [source, other], task=JUDGE_TASK)
    choice_probs(real_llama, judge, JUDGE_OPTIONS)
    after = real_llama.worker.health()["tokens"]
    prompt, cached = after["prompt"] - before["prompt"], after["cached"] - before["cached"]
    assert cached >= usage["prompt_tokens"] - 8, (usage, prompt, cached)  # all of the lead but its closing tokens
    assert after["ahead"] == before["ahead"]


@pytest.mark.model
def test_a_question_typed_is_read_a_passage_at_a_time_and_kept_among_the_questions(real_llama: WorkerGenerator) -> None:
    law = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行，共九章五十八条。"
    source = Source(1, "常州市生活垃圾分类管理条例9月1日起施行", "2024-02-02", law)
    other = Source(2, "口袋公园", "2024-02-02", "果蔬艺术空间口袋公园面积约7200平方米，今年春节前开放。")
    first = real_llama.read_ahead(lead_messages([source]), keep="none")  # the model's state only
    both = real_llama.read_ahead(lead_messages([source, other]), keep="recent")
    assert both["prompt_tokens_details"]["cached_tokens"] >= first["prompt_tokens"] - 8, (first, both)
    complete(real_llama, [{"role": "user", "content": "你好"}], max_tokens=2)  # the live state holds another prompt
    before = real_llama.worker.health()["tokens"]
    choice_probs(real_llama, answer_messages("条例一共有多少条？", [source, other], task=JUDGE_TASK), JUDGE_OPTIONS)
    after = real_llama.worker.health()["tokens"]
    cached = after["cached"] - before["cached"]
    assert cached >= both["prompt_tokens"] - 8, (both, cached)  # the two passages came from the questions' cache


@pytest.mark.model
def test_a_read_ahead_stops_between_two_batches_for_a_question_and_is_kept_only_when_whole(
    real_llama: WorkerGenerator,
) -> None:
    text = "武进区今年新建口袋公园十二座，其中果蔬艺术空间口袋公园面积约7200平方米，春节前向市民开放。"
    lead = lead_messages([Source(n, f"口袋公园（{n}）", "2024-02-03", text * 2) for n in range(1, 5)])  # ~350 tokens
    stopped: dict = {}
    real_llama.worker.url()  # started and warmed
    reading = threading.Thread(target=lambda: stopped.update(real_llama.read_ahead(lead)))
    reading.start()
    deadline = time.monotonic() + 30
    while not real_llama.worker.health().get("busy") and time.monotonic() < deadline:
        time.sleep(0.02)
    # the read has begun; a question comes (as from `newsqa ask`, which the app cannot see)
    choice_probs(real_llama, [{"role": "user", "content": "你好吗？"}], ("是", "否"))
    reading.join(120)
    assert stopped.get("stopped") is True, stopped
    whole = real_llama.read_ahead(lead)  # the model is free now: read to the end and kept
    assert "stopped" not in whole and whole["prompt_tokens"] > stopped["prompt_tokens"], (stopped, whole)
    again = real_llama.read_ahead(lead)
    assert again["prompt_tokens_details"]["cached_tokens"] >= whole["prompt_tokens"] - 8, again  # it was kept


@pytest.mark.model
def test_a_follow_up_rewrite_after_its_rules_were_read_ahead_reads_only_the_conversation(
    real_llama: WorkerGenerator,
) -> None:
    usage = real_llama.read_ahead(rewrite_lead_messages())
    assert usage["prompt_tokens"] > 40, usage
    complete(real_llama, [{"role": "user", "content": "你好"}], max_tokens=2)  # the live state holds another prompt
    history = [("垃圾分类条例什么时候施行？", "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。")]
    reply = real_llama.stream(rewrite_messages("它一共有多少条？", history), max_tokens=24)
    "".join(reply)
    cached = usage_of(reply)["prompt_tokens_details"]["cached_tokens"]
    assert cached >= usage["prompt_tokens"] - 8, (usage, usage_of(reply))  # all of the lead but its closing tokens


@pytest.mark.model
def test_a_new_model_server_loads_the_rules_an_earlier_one_read_and_judges_the_same(
    real_gguf: Path, tmp_path: Path
) -> None:
    law = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行，共九章五十八条。"
    judge = answer_messages("条例什么时候施行？", [Source(1, "垃圾分类条例", "2024-02-02", law)], task=JUDGE_TASK)
    settings = GeneratorSettings(model_path=str(real_gguf), n_ctx=1024, read_ahead=0)
    seen = []
    for rules_kept in (True, True, False):  # as `newsqa ask` runs: one model server after another
        gen = make_generator(replace(settings, rules_state_on_disk=rules_kept), real_gguf.parent, tmp_path / "run")
        try:
            probs = choice_probs(gen, judge, JUDGE_OPTIONS)
            seen.append((probs, gen.worker.health()["tokens"]))
        finally:
            gen.worker.stop()
    (first, read), (again, loaded), (plain, _) = seen
    assert len(list((tmp_path / "run" / "prompt-states").glob("*.state"))) == 1
    assert read["cached"] == 0 and loaded["cached"] >= 250, loaded  # the second server did not read the rules
    assert read["prompt"] == loaded["prompt"]  # the rules read apart still count as the prompt's, once
    assert first == again  # loaded, the rules give the judgement their own reading gave, bit for bit
    # read with the rest in one batch they round the same with the zen4 kernels, a little differently with others
    assert abs(first["是"] - plain["是"]) < 0.05, (first, plain)


def test_prompt_states_on_disk_are_found_by_tokens_and_context_and_bad_files_are_dropped(tmp_path: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    import numpy as np

    state = llama_cpp.LlamaState(
        input_ids=np.array([1, 2, 3], dtype=np.intc),
        scores=np.zeros((1, 4), dtype=np.single),
        n_tokens=3,
        llama_state=b"kv-cache-bytes",
        llama_state_size=14,
        seed=7,
    )
    starts = PromptStarts(tmp_path / "states", "model A", keep=2)
    assert starts.load([1, 2, 3], 4) is None
    starts.save([1, 2, 3], state)
    back = starts.load([1, 2, 3], 4)
    assert back.llama_state == b"kv-cache-bytes" and back.n_tokens == 3 and back.seed == 7
    assert list(back.input_ids) == [1, 2, 3]
    assert starts.load([1, 2], 4) is None  # another prompt start
    assert PromptStarts(tmp_path / "states", "model B").load([1, 2, 3], 4) is None  # other kernels or model
    starts.path([1, 2, 3]).write_bytes(PromptStarts.MAGIC + b'{"tokens": [1, 2, 3], "size": 99}\nshort')
    assert starts.load([1, 2, 3], 4) is None and not starts.path([1, 2, 3]).exists()  # cut short: dropped
    starts.save([1, 2, 3], state)
    kept = starts.path([1, 2, 3]).read_bytes()
    starts.path([1, 2, 3]).write_bytes(kept[:-3] + b"KV!")  # the same size, damaged bytes
    assert starts.load([1, 2, 3], 4) is None and not starts.path([1, 2, 3]).exists()
    starts.path([1, 2, 3]).write_bytes(b"\x00\xff garbage")
    assert starts.load([1, 2, 3], 4) is None and not starts.path([1, 2, 3]).exists()
    for tokens in ([1], [2], [3]):
        starts.save(tokens, state)
    assert len(list((tmp_path / "states").glob("*.state"))) == 2  # the newest kept
    blocked = tmp_path / "file"
    blocked.write_text("x")
    PromptStarts(blocked / "states", "model A").save([1], state)  # cannot be kept: the next process reads again


def test_a_prompt_state_belongs_to_its_model_file_kernels_and_settings(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    zen4, haswell = KernelPlan("zen4", "", False), KernelPlan("haswell", "", False)
    base = _build_context(model, zen4, 4096, 2, False)
    assert base == _build_context(model, zen4, 4096, 2, False)
    others = [
        _build_context(model, haswell, 4096, 2, False),
        _build_context(model, KernelPlan("zen4", "", True), 4096, 2, False),
        _build_context(model, zen4, 2048, 2, False),
        _build_context(model, zen4, 4096, 1, False),
        _build_context(model, zen4, 4096, 2, True),
    ]
    model.write_bytes(b"GGUF two, replaced")
    others.append(_build_context(model, zen4, 4096, 2, False))
    assert len({base, *others}) == 1 + len(others)


def test_a_reply_that_repeats_itself_ends_with_its_last_sentence_before_the_repeat() -> None:
    answer = "首都高校有1.4万名师生作为赛会志愿者[1]。"
    loop = "根据资料编号为2的正文，首都高校有1.4万名师生志愿者"
    text = answer + loop + "。" + loop
    assert loop_cut(text, 20) == len(answer) + len(loop) + 1  # the first time the loop is said stays
    assert loop_cut(answer + loop + loop, 20) == len(answer)  # no sentence ended before the repeat
    assert loop_cut("甲乙丙丁戊己庚辛壬癸" * 2, 20) == -1  # 20 characters, but said once
    assert loop_cut("哈" * 39, 20) == -1 and loop_cut("哈" * 40, 20) == 20  # runs may not overlap themselves
    assert loop_cut(text, 0) == -1
    assert loop_cut(answer + "条例共九章、五十八条[1]。", 20) == -1


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_a_streamed_reply_is_cut_where_the_whole_text_would_be(size: int) -> None:
    loop = "根据资料编号为2的正文，首都高校有1.4万名师生志愿者"
    replies = [
        "首都高校有1.4万名师生作为赛会志愿者[1]。" + loop + "。" + loop * 2,
        "哈" * 45,
        "条例共九章、五十八条[1]。" * 3,
    ]
    for reply in replies:
        watch = LoopWatch(20)
        for i in range(0, len(reply), size):
            assert watch.add(reply[i : i + size]) == loop_cut(reply[: i + size], 20)
