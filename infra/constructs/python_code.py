"""Zip Lambda packaging without Docker at synth: the function code asset and a dependencies layer.

- `function_code(repo_root)`: a staged copy of `functions/` only (no caches), so every zip function runs
  `functions.<name>.handler.handler` with the same domain code as the tests and the local mode.
- `DependenciesLayer`: a LayerVersion with a requirements file installed under `python/`, built by
  CDK's *local* bundling (`pip install --platform manylinux2014_<arch> --only-binary=:all: ...` with the
  synthesizing Python, wheels from the package index); only where that fails does CDK fall back to
  Docker bundling in the runtime's SAM build image. Apps skip bundling with the context
  `aws:cdk:bundling-stacks` = `[]` (tests), and the CLI bundles only the stacks it deploys.
- `zip_function(...)` with `FunctionDefaults`: a thin Python Lambda (arm64, X-Ray, its own log group,
  powertools environment) using both.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    Aws,
    BundlingOptions,
    Duration,
    IgnoreMode,
    ILocalBundling,
    RemovalPolicy,
)
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.artifacts import ZIP_LAYER

RUNTIME = lambda_.Runtime.PYTHON_3_11  # the project's Python (pyproject: >=3.11,<3.12)
ARCHITECTURE = lambda_.Architecture.ARM_64
ZIP_REQUIREMENTS = ZIP_LAYER.requirements
LAYER_SITE_PACKAGES = "python"  # Lambda adds /opt/python of every layer to sys.path

# Docker-style patterns relative to the repository root: `functions/` and nothing else.
FUNCTION_CODE_ALLOW = ("*", "!functions/", "**/__pycache__", "**/*.pyc", "functions/core/base/CODE_VERSION")
# The machine-local CODE_VERSION file is left out: functions get SKILLFORGE_CODE_VERSION instead.

_PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def function_code(repo_root: Path) -> lambda_.Code:
    """The code of every zip function: `functions/` of the repository (asset hash = its content)."""
    return lambda_.Code.from_asset(
        str(repo_root), exclude=list(FUNCTION_CODE_ALLOW), ignore_mode=IgnoreMode.DOCKER
    )


def pip_platform(architecture: lambda_.Architecture) -> str:
    try:
        return _PIP_PLATFORMS[architecture.name]
    except KeyError:
        raise ValueError(f"no pip platform known for Lambda architecture {architecture.name!r}") from None


def python_version(runtime: lambda_.Runtime) -> str:
    """`python3.11` → `3.11`."""
    if not runtime.name.startswith("python"):
        raise ValueError(f"{runtime.name!r} is not a Python Lambda runtime")
    return runtime.name.removeprefix("python")


def pip_install_command(requirements: str, target: str, *, platform: str, version: str) -> list[str]:
    """pip arguments that install `requirements` for the Lambda platform (wheels only) into `target`."""
    return [
        "install",
        "--platform", platform,
        "--only-binary=:all:",
        "--python-version", version,
        "--implementation", "cp",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
        "-r", requirements,
        "-t", target,
    ]  # fmt: skip


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """CDK local bundling: pip of the synthesizing Python; False (→ Docker bundling) when it fails."""

    def __init__(self, requirements: Path, *, platform: str, version: str) -> None:
        self.requirements = requirements
        self.platform = platform
        self.version = version

    def try_bundle(self, output_dir: str, *_options: Any, **_kwargs: Any) -> bool:
        target = str(Path(output_dir) / LAYER_SITE_PACKAGES)
        args = pip_install_command(
            str(self.requirements), target, platform=self.platform, version=self.version
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
        )
        seconds = time.monotonic() - started
        if result.returncode != 0:
            sys.stderr.write(
                f"local pip bundling of {self.requirements.name} failed after {seconds:.0f}s, "
                f"falling back to Docker:\n{result.stderr[-2000:]}\n"
            )
            return False
        sys.stderr.write(f"{self.requirements.name}: installed for {self.platform} in {seconds:.0f}s\n")
        return True


class DependenciesLayer(Construct):
    """`requirements` (a file in `repo_root`) installed for `runtime`/`architecture`, as a layer.

    The asset hash is the requirements file's content (and the bundling options), so CDK reuses a
    bundled layer from cdk.out until the pins change.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repo_root: Path,
        requirements: str = ZIP_REQUIREMENTS,
        runtime: lambda_.Runtime = RUNTIME,
        architecture: lambda_.Architecture = ARCHITECTURE,
        description: str = "skillforge zip function dependencies",
    ) -> None:
        super().__init__(scope, construct_id)
        requirements_path = repo_root / requirements
        if not requirements_path.is_file():
            raise ValueError(f"dependencies layer: no requirements file {requirements_path}")
        platform, version = pip_platform(architecture), python_version(runtime)
        docker_command = " ".join(
            ["pip", *pip_install_command(requirements, f"/asset-output/{LAYER_SITE_PACKAGES}",
                                         platform=platform, version=version)]
        )  # fmt: skip
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=f"{description} ({requirements}, {runtime.name}, {architecture.name})",
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            code=lambda_.Code.from_asset(
                str(repo_root),
                exclude=["*", f"!{requirements}"],
                ignore_mode=IgnoreMode.DOCKER,
                asset_hash_type=AssetHashType.SOURCE,
                bundling=BundlingOptions(
                    image=runtime.bundling_image,
                    platform=f"linux/{architecture.name}",
                    command=["bash", "-c", docker_command],
                    local=LocalPipBundling(requirements_path, platform=platform, version=version),
                ),
            ),
        )


@dataclass(frozen=True)
class FunctionDefaults:
    """What every zip function of a capability shares: code package, layers, logs, environment."""

    code: lambda_.Code
    stage: str
    layers: Sequence[lambda_.ILayerVersion] = ()
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    log_level: str = "INFO"
    environment: Mapping[str, str] = field(default_factory=dict)


def zip_function(
    scope: Construct,
    construct_id: str,
    *,
    module: str,
    description: str,
    defaults: FunctionDefaults,
    environment: Mapping[str, str],
    timeout: Duration = Duration.seconds(60),
    memory_mb: int = 512,
    function_name: str | None = None,
) -> lambda_.Function:
    """A thin Python Lambda running `functions.<module>.handler.handler`, its own log group and role."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=defaults.log_retention, removal_policy=defaults.removal_policy
    )
    return lambda_.Function(
        scope,
        construct_id,
        function_name=function_name,
        description=f"skillforge {defaults.stage}: {description}",
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=f"functions.{module}.handler.handler",
        code=defaults.code,
        layers=list(defaults.layers),
        memory_size=memory_mb,
        timeout=timeout,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            "SKILLFORGE_STAGE": defaults.stage,
            "SKILLFORGE_AWS_REGION": Aws.REGION,
            "POWERTOOLS_SERVICE_NAME": f"skillforge-{module}",
            "POWERTOOLS_METRICS_NAMESPACE": "skillforge",
            "POWERTOOLS_LOG_LEVEL": defaults.log_level,
            **defaults.environment,
            **environment,
        },
    )


def log_group(scope: Construct, name: str, defaults: FunctionDefaults) -> logs.LogGroup:
    """The `<name>Logs` log group of a function or state machine, with the stage's retention."""
    return logs.LogGroup(
        scope, f"{name}Logs", retention=defaults.log_retention, removal_policy=defaults.removal_policy
    )
