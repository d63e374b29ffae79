"""Local mode's review page and dashboard on 127.0.0.1, against a running emulator, with the Make skill
button wired to local training (extract → train → register, the code `skillforge make-skill --local`
runs) in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.dashboard.api import Dashboard
from functions.core.dashboard.jobs import LocalMakeSkillJobs
from functions.core.labelling.review_api import ReviewApi, TokenAuthenticator
from scripts.local.review_server import serving

REPO = Path(__file__).resolve().parents[2]
CONFIGS_DIR = REPO / "training" / "configs"
FIRST_CONFIG = "demo"  # the one made for a demo's data


def config_names(configs_dir: Path = CONFIGS_DIR) -> list[str]:
    names = sorted(path.stem for path in configs_dir.glob("*.json"))
    return sorted(names, key=lambda name: name != FIRST_CONFIG)


def local_runner(
    runs_dir: Path, configs_dir: Path = CONFIGS_DIR
) -> Callable[[str, Callable[[str], None]], tuple[str, int]]:
    """Make a skill from `<configs_dir>/<name>.json` against the emulator the environment points at."""

    def run(name: str, report: Callable[[str], None]) -> tuple[str, int]:
        from functions.core.base.aws import resource
        from functions.core.dataset.wiring import build_extract_deps
        from functions.core.skills.registry import SkillRegistry
        from functions.core.skills.settings import RegistrySettings
        from training.config import load_config
        from training.skill_maker import LocalMakerDeps, make_skill_local
        from training.transfer import models_folder

        report("loading the config")
        config = load_config(configs_dir / f"{name}.json")
        models = models_folder()
        if config.network.pretrained and (
            models is None or not (models / config.network.pretrained).is_file()
        ):
            report("no pretrained weights here: training from scratch")
            network = config.network.model_copy(update={"pretrained": None, "freeze": 0})
            config = config.model_copy(update={"network": network})
        settings = RegistrySettings()  # type: ignore[call-arg]
        registry = SkillRegistry(resource("dynamodb", settings).Table(settings.catalog_table))
        report("extracting the data set and training")
        made = make_skill_local(
            config, None, LocalMakerDeps(build_extract_deps(), registry, runs_dir, models)
        )
        return made.skill.skill, made.skill.skill_version

    return run


def build_site(
    emulator: Any,
    token: str,
    runs_dir: Path,
    reviewer: str = "local-expert",
    configs_dir: Path = CONFIGS_DIR,
) -> ReviewApi:
    """The review API with the dashboard's routes, reading and writing the emulator's resources."""
    names = emulator.names
    table = emulator.resource("dynamodb").Table(names.catalog_table)
    store = BlobStore(emulator.client("s3"))
    api = ReviewApi(DynamoCatalog(table), store, TokenAuthenticator(token, reviewer=reviewer))
    jobs = LocalMakeSkillJobs(config_names(configs_dir), local_runner(runs_dir, configs_dir))
    Dashboard(table, emulator.client("ssm"), store, jobs, stage=names.stage).attach(api)
    return api


@contextmanager
def serving_site(
    emulator: Any, token: str, runs_dir: Path, port: int = 0, configs_dir: Path = CONFIGS_DIR
) -> Iterator[str]:
    """Serve review page + dashboard in a background thread; yields the base URL."""
    with serving(build_site(emulator, token, runs_dir, configs_dir=configs_dir), port) as url:
        yield url
