"""``voxgate models``: list, download, validate, locate and import the models plugins use."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli.config_option import add_config_argument, config_file
from core.cli.output import emit_json, fail, failure, result, say
from core.config.errors import ConfigError
from core.config.loader import load_config
from core.config.paths import default_data_dir
from core.model_store.download import (
    PROVIDER_NAMES,
    DownloadError,
    DownloadProgress,
    default_providers,
    download_model,
)
from core.model_store.importer import ImportFailed, import_model
from core.model_store.paths import model_dir, models_root
from core.model_store.registry import ModelRegistry, ModelSpec, UnknownModelKey
from core.model_store.validate import validate_model
from core.plugins import create_plugin_catalog


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="download and check the models engines use")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="models directory (default: the config's models_dir, $VOXGATE_MODELS_DIR, "
        "or <data dir>/models)",
    )
    add_config_argument(parser, "config file to read dirs from")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    sub.add_parser("list", help="every known model and whether it is installed").set_defaults(
        handler=list_command
    )
    download = sub.add_parser("download", help="download a model (resumable)")
    download.add_argument("key")
    download.add_argument("--provider", choices=("auto", *PROVIDER_NAMES), default="auto")
    download.add_argument("--endpoint", default=None, help="Hugging Face endpoint (or HF_ENDPOINT)")
    download.add_argument("--force", action="store_true", help="download even if already valid")
    download.set_defaults(handler=download_command)
    validate = sub.add_parser("validate", help="check a model folder; lists what is missing")
    validate.add_argument("key")
    validate.add_argument("--checksums", action="store_true", help="also verify sha256 sums")
    validate.set_defaults(handler=validate_command)
    path = sub.add_parser("path", help="print the folder a model lives in")
    path.add_argument("key")
    path.set_defaults(handler=path_command)
    imp = sub.add_parser("import", help="install a model folder downloaded elsewhere")
    imp.add_argument("key")
    imp.add_argument("folder", type=Path)
    imp.set_defaults(handler=import_command)


def _root(args: argparse.Namespace) -> Path:
    if args.models_dir is not None:
        return Path(args.models_dir)
    chosen = config_file(args)
    if chosen.exists():
        try:
            config = load_config(chosen).config
        except ConfigError:
            config = None  # `voxgate config check` explains; the defaults still apply here
        if config is not None and (config.models_dir or config.data_dir):
            return models_root(
                config.models_dir or (config.data_dir or default_data_dir()) / "models"
            )
    return models_root()


def _spec(args: argparse.Namespace) -> tuple[ModelSpec, Path]:
    registry = ModelRegistry.from_catalog(create_plugin_catalog())
    return registry.get(args.key), _root(args)


def list_command(args: argparse.Namespace) -> int:
    registry = ModelRegistry.from_catalog(create_plugin_catalog())
    root = _root(args)
    rows: list[dict[str, Any]] = []
    for spec in registry.all():
        report = validate_model(spec, model_dir(spec, root))
        status = "ok" if report.ok else ("incomplete" if report.exists else "missing")
        rows.append(
            {
                "key": spec.key,
                "plugin": spec.plugin,
                "status": status,
                "path": report.path,
                "hf_repo": spec.hf_repo,
                "modelscope_id": spec.modelscope_id,
                "size_bytes": spec.size_bytes,
                "description": spec.description,
                "missing": report.missing,
            }
        )
    if args.json:
        emit_json({"models_dir": str(root), "models": rows, "problems": registry.problems})
        return 0
    say(f"models directory: {root}")
    for row in rows:
        size = f"{row['size_bytes'] / 1e9:.1f} GB" if row["size_bytes"] else "?"
        say(f"  {row['key']:<16} {row['status']:<10} {size:>8}  {row['description']}")
    for problem in registry.problems:
        say(f"  problem: {problem}")
    return 0


class _Bar:
    """A tqdm progress bar over bytes, with the file count beside it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, event: DownloadProgress) -> None:
        if self.quiet:
            return
        if event.phase in ("present", "listing"):
            say(
                f"{event.key}: {'already present' if event.phase == 'present' else 'listing files'}"
                + (f" ({event.provider})" if event.provider and event.phase == "listing" else "")
            )
            return
        from tqdm import tqdm

        if self.bar is None or self.bar.total != event.bytes_total:
            self.close()
            self.bar = tqdm(total=event.bytes_total, unit="B", unit_scale=True, desc=event.key)
        self.bar.n = event.bytes_done
        self.bar.set_postfix_str(
            f"{event.phase} {event.files_done}/{event.files_total} files", refresh=False
        )
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def download_command(args: argparse.Namespace) -> int:
    try:
        spec, root = _spec(args)
    except UnknownModelKey as exc:
        return fail(str(exc))
    bar = _Bar(quiet=args.json)
    try:
        path = download_model(
            spec,
            root,
            provider=args.provider,
            force=args.force,
            progress=bar,
            providers=default_providers(args.endpoint),
        )
    except DownloadError as exc:
        bar.close()
        return failure(args.json, {"key": spec.key, "error": str(exc)}, str(exc))
    bar.close()
    return result(
        args.json, {"ok": True, "key": spec.key, "path": str(path)}, f"{spec.key}: {path}"
    )


def validate_command(args: argparse.Namespace) -> int:
    try:
        spec, root = _spec(args)
    except UnknownModelKey as exc:
        return fail(str(exc))
    report = validate_model(spec, model_dir(spec, root), checksums=args.checksums)
    return result(
        args.json, report.as_dict(), f"{spec.key}: {report.summary()}", 0 if report.ok else 1
    )


def path_command(args: argparse.Namespace) -> int:
    try:
        spec, root = _spec(args)
    except UnknownModelKey as exc:
        return fail(str(exc))
    path = model_dir(spec, root)
    return result(
        args.json, {"key": spec.key, "path": str(path), "exists": path.is_dir()}, str(path)
    )


def import_command(args: argparse.Namespace) -> int:
    try:
        spec, root = _spec(args)
        path = import_model(spec, args.folder, root)
    except (UnknownModelKey, ImportFailed) as exc:
        return fail(str(exc))
    data = {"ok": True, "key": spec.key, "path": str(path)}
    return result(args.json, data, f"{spec.key}: imported into {path}")
