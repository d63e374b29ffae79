"""Every function as `cdk synth` packages it: does its handler import, and handle a real event, with
only what its artifact contains?

- Synthesizes the app (bundling skipped) and reads, per Lambda function, its handler and its artifact:
  zip functions: the staged code asset + the dependencies layer's requirement set; image functions:
  the staged build context + the requirement set passed to the Dockerfile (REQUIREMENTS build arg).
- Resolves the requirement set for the artifact's platform with pip (a report, metadata only) and checks
  that every third-party module the handler can import (its code closure, lazy imports included) is
  provided by a distribution of that set.
- Installs the set into a target folder (`pip --target --platform`, wheels cached in .work/wheels) and
  runs the handler in an isolated interpreter (`python -I -S`: only that folder and the code on
  sys.path) on its sample event (samples/events/<function>.json) against the local AWS emulator.
  An arm64 layer cannot run here: its x86_64 twin is installed from the same requirements file.

`python -m scripts.artifacts_check` prints one line per function (stdout) and exits 1 on any failure.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from infra.artifacts import ARTIFACTS, TRAINING_IMAGE, Artifact, by_dockerfile, by_requirements
from infra.config import REPO_ROOT

WORK = REPO_ROOT / ".work"
WHEELS = WORK / "wheels"  # pip download cache (gitignored)
INSTALLS = WORK / "artifacts"  # installed requirement sets, one folder per artifact and content hash
EVENTS = REPO_ROOT / "samples" / "events"
PYTHON_VERSION = "3.11"
# What Lambda's runtime (or the image's awslambdaric) provides besides the artifact.
RUNTIME_PROVIDED = frozenset({"awslambdaric"})
CODE_PACKAGES = frozenset({"functions", "training"})  # the project's code (followed, not installed)
# The sample events run in pipeline order (register's candidate is the one promote promotes).
PIPELINE_ORDER = (
    "detect", "gt_pre", "gt_post", "handoff", "label_import", "review_api",
    "extract", "train", "register", "evaluate", "promote", "notify", "reprocess", "drift",
)  # fmt: skip
# Exceptions that mean "the artifact lacks something", never "the handler refused the event".
MISSING = ("ModuleNotFoundError", "ImportError", "AttributeError", "NameError", "OSError")


@dataclass(frozen=True)
class PackagedFunction:
    """One Lambda function of the synthesized template: what it runs and what it runs on."""

    name: str  # functions.<name>.handler
    logical_id: str
    handler: str  # module.attribute
    artifact: Artifact
    code_dir: Path  # holds functions/
    size_bytes: int
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    function: str
    artifact: str
    size_mb: float
    imports_ok: bool
    handled: str  # "yes: ..." / "refused: ..." / "FAILED: ..." / "not run: ..."
    missing: list[str] = field(default_factory=list)
    # the isolated run: interpreter start, imports, model load and the first event (a cold start)
    cold_start_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.imports_ok and not self.handled.startswith("FAILED")

    def line(self) -> str:
        imports = "OK" if self.imports_ok else f"MISSING {', '.join(self.missing)}"
        cold = f"{self.cold_start_s:5.1f} s" if self.cold_start_s is not None else "    -  "
        return (
            f"{self.function:<13} {self.artifact:<15} {self.size_mb:>8.1f} MB  cold start {cold}  "
            f"handler import {imports:<4}  sample event handled: {self.handled}"
        )


# --- reading the synthesized app ------------------------------------------------------------------


def synthesize(outdir: Path, stage: str = "dev") -> Path:
    """`cdk synth` of one stage without bundling (the layer is installed below, not by CDK)."""
    from infra.application import build_app
    from infra.config import cdk_json_context

    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "stage": stage}
    build_app(context, outdir=str(outdir)).synth()
    return outdir


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def packaged_functions(outdir: Path) -> list[PackagedFunction]:
    """The project's functions of every template in `outdir`, with their artifacts."""
    found: list[PackagedFunction] = []
    for template_path in sorted(outdir.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        assets = json.loads(
            template_path.with_name(template_path.name.replace(".template", ".assets")).read_text()
        )
        resources = template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            found += _packaged(outdir, logical_id, resource["Properties"], resources, assets)
        found += _training_images(outdir, assets)
    order = {name: i for i, name in enumerate(PIPELINE_ORDER)}
    return sorted(found, key=lambda f: (order.get(f.name, len(order)), f.name))


def _packaged(
    outdir: Path, logical_id: str, props: dict[str, Any], resources: dict[str, Any], assets: dict[str, Any]
) -> list[PackagedFunction]:
    environment = props.get("Environment", {}).get("Variables", {})
    if props.get("PackageType") == "Image":
        digest = props["Code"]["ImageUri"]["Fn::Sub"].rsplit(":", 1)[1]
        source = assets["dockerImages"][digest]["source"]
        code_dir = outdir / source["directory"]
        artifact = by_requirements(source["dockerBuildArgs"]["REQUIREMENTS"])
        command = props.get("ImageConfig", {}).get("Command") or [
            _dockerfile_cmd(code_dir / source["dockerFile"])
        ]
        handler = command[0]
        models = [Path(path) for path in source.get("dockerBuildContexts", {}).values()]
        size = _folder_size(code_dir) + sum(_folder_size(path) for path in models if path.is_dir())
    else:
        handler = props.get("Handler", "")
        if not handler.startswith("functions."):
            return []  # CDK's own helpers (inline code)
        key = props["Code"]["S3Key"].removesuffix(".zip")
        code_dir = outdir / assets["files"][key]["source"]["path"]
        layers = [resources[layer["Ref"]]["Properties"] for layer in props.get("Layers", [])]
        requirements = [m.group(1) for lp in layers if (m := re.search(r"\((\S+\.txt),", lp["Description"]))]
        if len(requirements) != 1:
            raise ValueError(f"{logical_id}: expected one dependencies layer, found {requirements}")
        artifact = by_requirements(requirements[0])
        size = _folder_size(code_dir)
    name = handler.split(".")[1]
    return [PackagedFunction(name, logical_id, handler, artifact, code_dir, size, environment)]


def _training_images(outdir: Path, assets: dict[str, Any]) -> list[PackagedFunction]:
    """The SageMaker training image: its entry point is training/train.py (script mode)."""
    found = []
    for digest, image in assets["dockerImages"].items():
        source = image["source"]
        if source["dockerFile"] != TRAINING_IMAGE.dockerfile:
            continue
        code_dir = outdir / source["directory"]
        artifact = by_dockerfile(source["dockerFile"])
        size = _folder_size(code_dir)
        found.append(PackagedFunction("train", digest[:12], "training.train.main", artifact, code_dir, size))
    return found


def _dockerfile_cmd(dockerfile: Path) -> str:
    commands = re.findall(r'^CMD \["([^"]+)"\]', dockerfile.read_text(), flags=re.MULTILINE)
    if not commands:
        raise ValueError(f'{dockerfile}: no CMD ["handler"] line')
    return str(commands[-1])


# --- what a handler can import ----------------------------------------------------------------------


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _guards_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
            return True
    return False


def _imports(tree: ast.AST) -> Iterator[tuple[str, bool, bool]]:
    """(module, optional, lazy) of every import: optional under `except ImportError`, lazy inside a
    function; TYPE_CHECKING blocks skipped."""

    def walk(node: ast.AST, optional: bool, lazy: bool) -> Iterator[tuple[str, bool, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                yield from (item for stmt in child.orelse for item in walk_one(stmt, optional, lazy))
                continue
            if isinstance(child, ast.Try) and _guards_import_error(child):
                for stmt in child.body:
                    yield from walk_one(stmt, True, lazy)
                for part in (*child.handlers, *child.orelse, *child.finalbody):
                    yield from walk(part, optional, lazy)
                continue
            yield from walk_one(child, optional, lazy)

    def walk_one(node: ast.AST, optional: bool, lazy: bool) -> Iterator[tuple[str, bool, bool]]:
        if isinstance(node, ast.Import):
            yield from ((alias.name, optional, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, optional, lazy
            yield from ((f"{node.module}.{alias.name}", optional, lazy) for alias in node.names)
        else:
            inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(node, optional, inner)

    yield from walk(tree, False, False)


@dataclass(frozen=True)
class Needed:
    """A third-party module the handler can import: the first importer, and whether only lazily."""

    importer: str
    lazy: bool


def third_party_imports(handler_module: str, code_dir: Path) -> dict[str, Needed]:
    """Top-level third-party modules the handler's code closure imports (not optionally).

    A module reached at import time (through module-level imports from the handler) imports eagerly;
    one reached only through an import inside a function runs only when that function is called.
    """
    eager: dict[str, bool] = {}
    needed: dict[str, Needed] = {}
    queue = [(handler_module, True)]
    while queue:
        module, is_eager = queue.pop()
        if module in eager and (eager[module] or not is_eager):
            continue
        eager[module] = is_eager
        parts = module.split(".")
        path = code_dir.joinpath(*parts)
        source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        if not source.is_file():
            continue  # `from package import name` where name is not a module
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a/b/__init__
            queue.append((".".join(parts[:i]), is_eager))
        for imported, optional, lazy in _imports(ast.parse(source.read_text(), str(source))):
            top = imported.split(".")[0]
            now_eager = is_eager and not lazy
            if top in CODE_PACKAGES:
                queue.append((imported, now_eager))
            elif not optional and top not in sys.stdlib_module_names and top not in RUNTIME_PROVIDED:
                known = needed.get(top)
                if known is None or (now_eager and known.lazy):
                    needed[top] = Needed(module, lazy=not now_eager)
    return needed


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_providing(modules: Iterable[str]) -> dict[str, set[str]]:
    """Top-level module → the distributions that provide it (from the dev environment's metadata)."""
    provided = metadata.packages_distributions()
    return {module: {_normalise(d) for d in provided.get(module, [])} for module in modules}


# --- the artifact's requirement set for its platform -------------------------------------------------


def requirement_files(requirements: str) -> list[Path]:
    """The file and every file it includes with -r, in order."""
    files, queue = [], [REPO_ROOT / requirements]
    while queue:
        path = queue.pop(0)
        files.append(path)
        for line in path.read_text().splitlines():
            if match := re.match(r"^-r\s+(\S+)", line.strip()):
                queue.append(path.parent / match.group(1))
    return files


def content_hash(artifact: Artifact) -> str:
    digest = hashlib.sha256()
    for path in requirement_files(artifact.requirements):
        digest.update(path.read_bytes())
    digest.update(repr(artifact.pip_platforms).encode())
    return digest.hexdigest()[:12]


def _pip_platform_args(artifact: Artifact) -> list[str]:
    args = []
    for platform in artifact.pip_platforms:
        args += ["--platform", platform]
    return [*args, "--python-version", PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:"]


def _pip(args: list[str]) -> None:
    # The machine-wide pip constraints cap torch for the dev environment; the artifact's own pins rule.
    env = {**os.environ, "PIP_CONSTRAINT": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    command = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")


def requirement_names(artifact: Artifact) -> list[str]:
    names = []
    for path in requirement_files(artifact.requirements):
        for line in path.read_text().splitlines():
            requirement = line.split("#", 1)[0].strip()
            if requirement and not requirement.startswith("-"):
                names.append(Requirement(requirement).name)
    return names


def metadata_closure(artifact: Artifact) -> set[str]:
    """The requirement set and its dependencies (Linux, CPython 3.11) from the pinned packages' metadata."""
    environment = {"sys_platform": "linux", "platform_system": "Linux", "python_version": PYTHON_VERSION}
    seen: set[str] = set()
    queue = requirement_names(artifact)
    while queue:
        name = _normalise(queue.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # removed on purpose (openvino-telemetry): a leaf here
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
                queue.append(requirement.name)
    return seen


def resolved_distributions(artifact: Artifact) -> set[str]:
    """Every distribution pip installs for the artifact's requirement set on its platform (cached)."""
    if not artifact.installable_here:
        return metadata_closure(artifact)
    report = INSTALLS / f"{artifact.name}-{content_hash(artifact)}.report.json"
    if not report.is_file():
        INSTALLS.mkdir(parents=True, exist_ok=True)
        _pip([
            "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
            *_pip_platform_args(artifact), "--target", str(INSTALLS / "dry-run"),
            "-r", str(REPO_ROOT / artifact.requirements),
        ])  # fmt: skip
    installed = json.loads(report.read_text())["install"]
    return {_normalise(item["metadata"]["name"]) for item in installed}


def installed_size(distributions: Iterable[str]) -> int:
    """Bytes of the given distributions as installed in this environment (an estimate for an image whose
    set cannot be installed here: torch is the build installed here, not the image's)."""
    total = 0
    for name in distributions:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        located = (Path(path.locate()) for path in files)
        total += sum(path.stat().st_size for path in located if path.is_file())
    return total


def install(artifact: Artifact) -> Path:
    """The requirement set installed for the artifact's platform (x86_64) into a folder of its own."""
    target = INSTALLS / f"{artifact.name}-{content_hash(artifact)}"
    if (target / ".complete").is_file():
        return target
    WHEELS.mkdir(parents=True, exist_ok=True)
    requirements = str(REPO_ROOT / artifact.requirements)
    platform = _pip_platform_args(artifact)
    _pip(["download", "--quiet", *platform, "-r", requirements, "-d", str(WHEELS)])
    _pip([
        "install", "--quiet", "--no-index", "--find-links", str(WHEELS), "--no-compile",
        *platform, "-r", requirements, "--target", str(target),
    ])  # fmt: skip
    (target / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    return target


# --- running a handler in isolation ------------------------------------------------------------------

RUNNER = """
import json, sys, traceback
site, code, handler, event_path = sys.argv[1:5]
sys.path[:0] = [site, code]
result = {"imported": False}
try:
    module_name, _, attribute = handler.rpartition(".")
    module = __import__(module_name, fromlist=[attribute])
    function = getattr(module, attribute)
    result["imported"] = True
    class Context:
        function_name = "artifact-check"; memory_limit_in_mb = 512; aws_request_id = "artifact-check"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:artifact-check"
        def get_remaining_time_in_millis(self): return 60000
    with open(event_path) as handle:
        event = json.load(handle)
    answer = function(event, Context())
    result["returned"] = json.loads(json.dumps(answer, default=str))
except BaseException as exc:
    result["error"] = type(exc).__name__
    result["message"] = str(exc)[:400]
    result["trace"] = traceback.format_exc()[-2000:]
print("ARTIFACT-CHECK " + json.dumps(result))
"""


def run_isolated(
    site: Path, code_dir: Path, handler: str, event: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """The handler on `event` in `python -I -S`: no site-packages, no PYTHONPATH, only site + code."""
    python = getattr(sys, "_base_executable", sys.executable)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as runner:
        runner.write(RUNNER)
    try:
        result = subprocess.run(
            [python, "-I", "-S", runner.name, str(site), str(code_dir), handler, str(event)],
            check=False, capture_output=True, text=True, env=dict(env), timeout=300,
        )  # fmt: skip
    finally:
        Path(runner.name).unlink()
    lines = [line for line in result.stdout.splitlines() if line.startswith("ARTIFACT-CHECK ")]
    if not lines:
        return {"imported": False, "error": "crashed", "message": result.stderr[-1500:]}
    answer: dict[str, Any] = json.loads(lines[-1].removeprefix("ARTIFACT-CHECK "))
    return answer


def handled(answer: dict[str, Any]) -> str:
    if "returned" in answer:
        return "yes: " + json.dumps(answer["returned"], default=str)[:90]
    error = answer.get("error", "?")
    if not answer.get("imported") or error in MISSING:
        return f"FAILED: {error}: {answer.get('message', '')[:300]}"
    return f"refused (clear error): {error}: {answer.get('message', '')[:120]}"


# --- the whole check ---------------------------------------------------------------------------------


def missing_packages(function: PackagedFunction, artifact: Artifact) -> list[str]:
    """Modules the handler can import that its artifact does not provide (and does not leave out on
    purpose, lazily imported, with a reason)."""
    needed = third_party_imports(function.handler.rpartition(".")[0], function.code_dir)
    available = resolved_distributions(artifact)
    missing = []
    for module, dists in sorted(distributions_providing(needed).items()):
        if dists & available:
            continue
        if module in artifact.leaves_out and needed[module].lazy:
            continue
        when = "lazily" if needed[module].lazy else "at import"
        missing.append(f"{module} ({when}, by {needed[module].importer})")
    return missing


def _placeholder(key: str) -> str:
    """A stand-in for a deploy-time token (an ARN, a URL) the emulator has no value for."""
    if key.endswith(("_ORIGIN", "_URL")):
        return "https://review.example.com"
    return f"arn:aws:local:us-east-1:123456789012:{key.lower()}"


def function_env(
    function: PackagedFunction, emulator_env: Mapping[str, str], models_dir: str
) -> dict[str, str]:
    """The function's synthesized environment, tokens replaced by the emulator's names."""
    env: dict[str, str] = {}
    for key, value in function.environment.items():
        env[key] = value if isinstance(value, str) else emulator_env.get(key, _placeholder(key))
    return {
        **env,
        **emulator_env,
        "SKILLFORGE_MODELS_DIR": models_dir,
        "AWS_ACCESS_KEY_ID": "skillforge-local",
        "AWS_SECRET_ACCESS_KEY": "skillforge-local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "YOLO_OFFLINE": "1",
        "OPENVINO_TELEMETRY_DISABLE": "1",
        "HOME": tempfile.gettempdir(),
    }


def check(
    outdir: Path, run_events: bool = True, models_dir: str | None = None, only: set[str] | None = None
) -> list[Outcome]:
    from scripts.artifacts_events import seeded_events
    from scripts.local.emulator import running_emulator

    functions = [f for f in packaged_functions(outdir) if only is None or f.name in only]
    models = (
        models_dir or os.environ.get("SKILLFORGE_MODELS_DIR") or str(REPO_ROOT.parent / "shared" / "models")
    )
    outcomes: list[Outcome] = []
    installed = {a.name: a for a in ARTIFACTS}
    with running_emulator(stage="dev") as emulator, tempfile.TemporaryDirectory() as scratch:
        events, extra_env = seeded_events(emulator, Path(scratch)) if run_events else ({}, {})
        for function in functions:
            artifact = installed[function.artifact.name]
            missing = missing_packages(function, artifact)
            outcome = Outcome(
                function.name, artifact.name, function.size_bytes / 1e6, not missing, "", missing
            )
            if artifact.installable_here:
                site = install(artifact)
                outcome.size_mb += _folder_size(site) / 1e6
                event = events.get(function.name)
                if event is None:
                    outcome.handled = "not run: no sample event"
                else:
                    env = {**function_env(function, emulator.function_env(), models), **extra_env}
                    started = time.monotonic()
                    answer = run_isolated(site, function.code_dir, function.handler, event, env)
                    outcome.cold_start_s = time.monotonic() - started
                    outcome.handled = handled(answer)
            else:
                outcome.size_mb += installed_size(resolved_distributions(artifact)) / 1e6
                outcome.handled = (
                    "not run: torch comes from another wheel index or the base (imports checked; size: "
                    "the pinned packages as installed here)"
                )
            outcomes.append(outcome)
    return outcomes


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as outdir:
        sys.stderr.write("synthesizing (bundling skipped)...\n")
        outcomes = check(synthesize(Path(outdir)))
    for outcome in outcomes:
        print(outcome.line())
    failed = [o.function for o in outcomes if not o.ok]
    sys.stderr.write(f"{len(outcomes)} functions, {len(failed)} failed, {time.monotonic() - started:.0f}s\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
