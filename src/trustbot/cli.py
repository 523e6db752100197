"""The ``trustbot`` command."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from trustbot.config import Settings
from trustbot.errors import BadInput, TrustbotError

if TYPE_CHECKING:
    from trustbot.answer import Answer, Answerer
    from trustbot.embed import Embedder
    from trustbot.ingest import LifecycleReport

F = TypeVar("F", bound=Callable[..., Any])
QUIT_WORDS = frozenset({"quit", "exit", ":q", "/quit"})


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    # Global options may come before or after the subcommand; the last one given wins.
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            root = ctx.find_root()
            root.meta[f"trustbot.{name}"] = value
        return value

    return callback


def global_options(func: F) -> F:
    """``--corpus``, ``--index``, ``--model``, ``--debug`` on the group and on every command."""
    paths = (
        ("corpus", "Corpus folder [env TRUSTBOT_CORPUS_DIR; default ./corpus]."),
        ("index", "Index folder [env TRUSTBOT_INDEX_DIR; default ./index]."),
        (
            "model",
            "A local sentence-transformers model folder [env TRUSTBOT_MODEL; "
            "default: the bundled all-MiniLM-L6-v2].",
        ),
    )
    opts = [
        click.option(
            f"--{name}",
            type=click.Path(path_type=Path),
            default=None,
            expose_value=False,
            callback=_remember(name),
            help=text,
        )
        for name, text in paths
    ]
    opts.append(
        click.option(
            "--debug",
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_remember("debug"),
            help="Show tracebacks and debug logs.",
        )
    )
    for opt in reversed(opts):
        func = opt(func)
    return func


def settings() -> Settings:
    """The settings for this invocation: flags, then ``TRUSTBOT_*`` env, then defaults."""
    meta = click.get_current_context().find_root().meta
    return Settings.from_env(
        corpus_dir=meta.get("trustbot.corpus"),
        index_dir=meta.get("trustbot.index"),
        model_path=meta.get("trustbot.model"),
        debug=bool(meta.get("trustbot.debug")) or None,
    )


def _color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ


def _fail(message: str) -> None:
    click.echo(f"trustbot: error: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="trustbot")
def cli() -> None:
    """Ask questions about news articles; get back the sentences that answer them, cited."""


def open_answerer(articles: Sequence[str] = ()) -> Answerer:
    """The answerer for this invocation's corpus and index; with ``articles``, for those only."""
    from trustbot.answer import Answerer

    return Answerer.open(settings()).within(articles)


# `--article ID` (repeatable): ask of these stories only (scope.py).
_ARTICLE_OPTION = click.option(
    "--article",
    "-a",
    "articles",
    multiple=True,
    metavar="ID",
    help="Ask of this article only (its id or file name; repeat for several).",
)


def _questions(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        if line.strip():
            yield line.rstrip("\r\n")


def _emit(answer: Answer, as_json: bool, pick: str = "--article ID") -> None:
    from trustbot.render import to_json, to_text

    if as_json:
        click.echo(to_json(answer))
    else:
        click.echo(to_text(answer, color=_color(), pick=pick))


@cli.command()
@global_options
@click.argument("question", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question, per line.")
@click.option(
    "--top-k",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="At most this many cited sentences.",
)
@_ARTICLE_OPTION
def ask(question: tuple[str, ...], as_json: bool, top_k: int, articles: tuple[str, ...]) -> None:
    """Answer QUESTION with cited sentences (no QUESTION: one question per stdin line)."""
    from trustbot.answer import clean_question

    if question:
        q = clean_question(" ".join(question))
        _emit(open_answerer(articles).ask(q, top_k=top_k), as_json)
        return
    answerer: Answerer | None = None
    bad = 0
    for line in _questions(sys.stdin):
        try:
            q = clean_question(line)
        except BadInput as err:
            # One bad line must not lose the answers to the others.
            _fail(str(err))
            bad += 1
            continue
        answerer = answerer or open_answerer(articles)
        _emit(answerer.ask(q, top_k=top_k), as_json)
        sys.stdout.flush()
    if answerer is None and not bad:
        raise BadInput("no question given: pass one as an argument or one per line on stdin")
    if bad:
        raise click.exceptions.Exit(2)


def _read_interactive() -> Iterator[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    session: PromptSession[str] = PromptSession(history=InMemoryHistory())
    while True:
        try:
            yield session.prompt("? ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return


@cli.command()
@global_options
@click.option(
    "--top-k",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="At most this many cited sentences.",
)
@_ARTICLE_OPTION
def chat(top_k: int, articles: tuple[str, ...]) -> None:
    """Ask questions one after another; `quit` or Ctrl-D ends the session.

    `/story ID...` asks of those articles only from then on, `/story all` of every article, and
    `/story` alone says which. A new index (from `trustbot ingest` in another terminal, say) is
    picked up without a restart.
    """
    from trustbot.followup import Conversation
    from trustbot.live import LiveAnswerer

    live = LiveAnswerer.open(settings())
    conversation = Conversation()
    answerer = live.current.within(articles)
    scope = answerer.scope or ()
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        click.echo(
            _asking_of(answerer) + "\nAsk a question; `/story ID` asks of one article, `quit` or "
            "Ctrl-D ends."
        )
    lines = _read_interactive() if interactive else (line.rstrip("\r\n") for line in sys.stdin)
    for line in lines:
        if line.strip().lower() in QUIT_WORDS:
            break
        if not line.strip():
            continue
        try:
            story = _STORY.fullmatch(line.strip())
            if story:
                named = story.group(1).split()
                every = [n.lower() for n in named] == ["all"]
                answerer = live().within(() if every else named or scope)
                if (answerer.scope or ()) != scope:  # follow-ups do not cross stories
                    scope, conversation = answerer.scope or (), Conversation()
                click.echo(_asking_of(answerer) + "\n")
                continue
            answerer = live().within(scope)
            answer = answerer.ask(line, top_k=top_k, conversation=conversation)
        except BadInput as err:
            _fail(str(err))
            continue
        _emit(answer, as_json=False, pick="/story ID")
        click.echo()
        sys.stdout.flush()


# `/story`, `/story ID...`, `/story all` in a chat.
_STORY = re.compile(r"/story\b(.*)", re.IGNORECASE)


def _asking_of(answerer: Answerer) -> str:
    """Which articles a chat asks of, in a line (the first three named)."""
    shown = ", ".join(f"{a.title} ({a.id})" for a in answerer.articles[:3])
    more = len(answerer.articles) - 3
    shown += f" and {more} more" if more > 0 else ""
    if answerer.scope:
        return f"Asking only of {shown}."
    return f"Asking of every article ({len(answerer.articles)}): {shown}."


@cli.group()
@global_options
def index() -> None:
    """Build the index or show what it holds."""


class _Progress:
    """A rich progress bar on a terminal; nothing when output is piped."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def build_index(*, reuse: bool, only_if_stale: bool = False) -> None:
    """(Re)build the index from the corpus and print a one-line summary."""
    from trustbot.corpus import load_corpus
    from trustbot.embed import make_embedder
    from trustbot.errors import IndexCorrupt, IndexMissing, IndexStale
    from trustbot.store import (
        check_model,
        read_manifest,
        stale_reason,
        without_token_vectors,
        write_index,
    )

    s = settings()
    articles = load_corpus(s.corpus_dir)
    embedder = make_embedder(s.model_path, s.cache_dir)
    if only_if_stale:
        try:
            manifest = read_manifest(s.index_dir)
            check_model(manifest, embedder, s.index_dir)
            # An index written before token vectors were kept is not up to date: it lacks them.
            lacking = without_token_vectors(s.index_dir, manifest["articles"])
            if stale_reason(manifest, articles) is None and not lacking:
                click.echo(f"The index in {s.index_dir} is up to date.", err=True)
                return
        except (IndexMissing, IndexStale, IndexCorrupt):
            pass
    with _Progress("Embedding sentences") as progress:
        report = write_index(
            s.index_dir,
            articles,
            embedder,
            reuse=reuse,
            progress=progress,
            lock_timeout=s.lock_timeout,
        )
    click.echo(f"{report.summary()} -> {s.index_dir}", err=True)


@index.command("build")
@global_options
def index_build() -> None:
    """Rebuild the whole index from the corpus."""
    build_index(reuse=False)


@index.command("update")
@global_options
def index_update() -> None:
    """Bring the index up to date with the corpus; embeds only new or changed articles."""
    build_index(reuse=True, only_if_stale=True)


def _lifecycle(
    run: Callable[[Settings, Embedder, Callable[[int, int], None]], LifecycleReport],
) -> None:
    """Run an ingest/remove/re-scan: problems by name, one summary line, exit 2 if any failed."""
    from trustbot.embed import make_embedder

    s = settings()
    with _Progress("Embedding sentences") as progress:
        report = run(s, make_embedder(s.model_path, s.cache_dir), progress)
    _print_report(report, s.index_dir)
    if report.failed:
        raise click.exceptions.Exit(2)


def _print_report(report: LifecycleReport, index_dir: Path) -> None:
    for dup in report.duplicates:
        click.echo(
            f"trustbot: {dup.name}: same text as article {dup.same_as!r}; not indexed twice",
            err=True,
        )
    for problem in report.problems:
        _fail(f"{problem.message}; skipped")
    click.echo(f"{report.summary()} -> {index_dir}", err=True)


@cli.command()
@global_options
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def ingest(paths: tuple[Path, ...]) -> None:
    """Copy or update articles (files or folders) into the corpus and update the index.

    PATHS are .txt, .md or .html files, or folders of them. Only new or changed articles are
    embedded; unchanged ones keep their vectors. Text identical to an article already in the
    corpus is skipped. A bad input is reported and skipped, the rest is ingested, and the exit
    code is 2.
    """
    from trustbot import ingest as lifecycle

    _lifecycle(lambda s, emb, progress: lifecycle.ingest(s, paths, emb, progress))


@cli.command()
@global_options
@click.argument("article_ids", nargs=-1, required=True)
def remove(article_ids: tuple[str, ...]) -> None:
    """Remove articles (by id, or by file name) from the corpus and the index."""
    from trustbot import ingest as lifecycle

    _lifecycle(lambda s, emb, progress: lifecycle.remove(s, article_ids, emb, progress))


@cli.command()
@global_options
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--every",
    type=click.FloatRange(0.2, 3600),
    default=2.0,
    show_default=True,
    help="Seconds between looks at FOLDER.",
)
def watch(folder: Path, every: float) -> None:
    """Ingest articles dropped into FOLDER as they appear or change, until Ctrl-C.

    Each batch is reported like `trustbot ingest`; a running bot or chat picks it up live.
    """
    from trustbot import ingest as lifecycle
    from trustbot.embed import make_embedder

    s = settings()
    click.echo(f"Watching {folder} for articles (Ctrl-C stops).", err=True)
    try:
        lifecycle.watch(
            s,
            folder,
            make_embedder(s.model_path, s.cache_dir),
            lambda report: _print_report(report, s.index_dir),
            every=every,
            on_error=lambda err: _fail(f"{err}; trying again"),
        )
    except KeyboardInterrupt:
        click.echo("Stopped watching.", err=True)


@index.command("status")
@global_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def index_status(as_json: bool) -> None:
    """What the index holds, and whether it matches the corpus."""
    import json

    from trustbot.store import corpus_staleness, read_manifest, without_token_vectors

    s = settings()
    manifest = read_manifest(s.index_dir)
    try:
        reason = corpus_staleness(s.index_dir, s.corpus_dir)
    except BadInput as err:
        reason = str(err)
    status = {
        "articles": manifest["counts"]["articles"],
        "sentences": manifest["counts"]["sentences"],
        "model": manifest["model"]["id"],
        "model_weights_sha256": manifest["model"]["weights_sha256"],
        "dim": manifest["model"]["dim"],
        "built_at": manifest["built_at"],
        "fresh": reason is None,
        "stale_reason": reason,
        "format_version": manifest["format_version"],
        "faiss": manifest.get("faiss", {}),
        "token_vectors_missing": without_token_vectors(s.index_dir, manifest["articles"]),
        "index_dir": str(s.index_dir),
        "corpus_dir": str(s.corpus_dir),
        "items": [
            {
                "id": a["id"],
                "title": a["title"],
                "sha256": a["sha256"],
                "sentences": a["sentences"],
                "published": a.get("published"),
                "url": a.get("url"),
            }
            for a in manifest["articles"]
        ],
    }
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{status['articles']} article(s), {status['sentences']} sentences, "
        f"model {status['model']}, built {status['built_at']}"
    )
    click.echo("fresh" if reason is None else f"stale ({reason}): run `trustbot index build`")
    if status["token_vectors_missing"]:
        click.echo(
            f"{status['token_vectors_missing']} article(s) without stored token vectors (indexed "
            "before they were kept): answers are slower until `trustbot index update`"
        )
    for item in status["items"]:
        click.echo(f"  {item['id']}: {item['title']} ({item['sentences']} sentences)")


@cli.command("eval")
@global_options
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="One JSON report instead of tables.")
@click.option("--verbose", "-v", is_flag=True, help="Also list every question missed.")
@click.option(
    "--conversation",
    is_flag=True,
    help="Ask each file's questions in order as one chat session, as `trustbot chat` does.",
)
@_ARTICLE_OPTION
def eval_command(
    files: tuple[Path, ...],
    as_json: bool,
    verbose: bool,
    conversation: bool,
    articles: tuple[str, ...],
) -> None:
    """Score question sets (shared/eval .jsonl) against the current index.

    Prints P@1, R@5, MRR@10, the answer rate on answerable questions, the abstain rate on
    unanswerable ones (a question whose article is not indexed counts as unanswerable) and the
    answer/abstain trade-off as the threshold moves. Ingests nothing. Each question is asked on
    its own unless --conversation is given. With --article, every question is asked of those
    articles only, and a question about another article counts as unanswerable.
    """
    import json

    from trustbot.answer import ANSWER_THRESHOLD
    from trustbot.evaluate import evaluate, format_report, read_questions

    sets = [(str(f), read_questions(f)) for f in files]
    answerer = open_answerer(articles)
    with _Progress("Asking questions") as progress:
        report = evaluate(answerer, sets, ANSWER_THRESHOLD, progress, conversation)
    if as_json:
        click.echo(json.dumps(report.as_dict(verbose), ensure_ascii=False))
    else:
        click.echo(format_report(report, verbose))


def _ids(values: tuple[str, ...], name: str) -> frozenset[int] | None:
    if not values:
        return None
    try:
        return frozenset(int(p) for v in values for p in v.replace(",", " ").split())
    except ValueError:
        raise BadInput(f"{name} takes numeric Telegram ids, e.g. {name} 123456789") from None


@cli.command()
@global_options
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the bot token from this file instead of TELEGRAM_BOT_TOKEN.",
)
@click.option(
    "--webhook-url",
    help="Run a webhook server for this public https URL instead of long polling "
    "[env TRUSTBOT_WEBHOOK_URL].",
)
@click.option(
    "--listen", help="Webhook server address [env TRUSTBOT_WEBHOOK_LISTEN; default 127.0.0.1]."
)
@click.option("--port", type=click.IntRange(1, 65535), help="Webhook server port [default 8080].")
@click.option(
    "--secret-token",
    help="Webhook secret Telegram must send (required with --webhook-url) "
    "[env TRUSTBOT_WEBHOOK_SECRET].",
)
@click.option(
    "--allow-chat", multiple=True, help="Only answer in these chats [env TRUSTBOT_ALLOWED_CHATS]."
)
@click.option(
    "--allow-user", multiple=True, help="Only answer these user ids [env TRUSTBOT_ALLOWED_USERS]."
)
@click.option(
    "--admin",
    multiple=True,
    help="User ids exempt from limits and allowed /reindex [env TRUSTBOT_ADMIN_USERS].",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(1, 1000),
    help="Questions per user per minute [env TRUSTBOT_RATE_LIMIT_PER_MINUTE; default 10].",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Threads answering questions [default 2]."
)
def bot(
    token_file: Path | None,
    webhook_url: str | None,
    listen: str | None,
    port: int | None,
    secret_token: str | None,
    allow_chat: tuple[str, ...],
    allow_user: tuple[str, ...],
    admin: tuple[str, ...],
    rate_limit: int | None,
    workers: int | None,
) -> None:
    """Run the Telegram bot (long polling; --webhook-url for webhook mode).

    The token comes from TELEGRAM_BOT_TOKEN or --token-file; SIGINT/SIGTERM stop it cleanly.
    """
    from trustbot.config import BotSettings

    token = None
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise BadInput(f"cannot read the token file {token_file}: {err.strerror}") from None
    bot_settings = BotSettings.from_env(
        token=token,
        webhook_url=webhook_url,
        listen=listen,
        port=port,
        secret_token=secret_token,
        allowed_chats=_ids(allow_chat, "--allow-chat"),
        allowed_users=_ids(allow_user, "--allow-user"),
        admin_users=_ids(admin, "--admin"),
        rate_limit_per_minute=rate_limit,
        workers=workers,
    )
    from trustbot.telegram_bot import serve

    s = settings()
    serve(bot_settings, s, debug=s.debug)


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if debug
        else "trustbot: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into one-line messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("TRUSTBOT_DEBUG", "") not in ("", "0")
    _configure_logging(debug)
    started = time.monotonic()
    try:
        # Without standalone mode click returns a command's ``Exit`` code instead of exiting.
        code = cli.main(args=args, prog_name="trustbot", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except TrustbotError as err:
        if debug:
            logging.getLogger(__name__).exception("failed after %.2fs", time.monotonic() - started)
        _fail(str(err))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # Output was piped into something that stopped reading (e.g. `| head`).
        sys.stderr.close()
        sys.exit(0)
    except Exception as err:  # the last line of defence: never a traceback without --debug
        if debug:
            raise
        _fail(f"{type(err).__name__}: {err} (run with --debug for the traceback)")
        sys.exit(1)
