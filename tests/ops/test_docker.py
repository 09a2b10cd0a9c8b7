"""Static checks of docker/: the Compose file, the Dockerfiles, the entry point and .env.example.

No Docker engine runs here, so the files are checked with the tools that
would reject them: the Compose specification's JSON schema (as shipped by
check-jsonschema), hadolint and ShellCheck.
"""

import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SEMREC_SERVICES = {"web", "worker", "worker-gpu", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _tool(name: str) -> str:
    """Return the path of a linter installed with the test extra, next to this Python."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed; install the test extra: pip install -e '.[test]'"
    return found


def test_compose_matches_specification_schema(compose):
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)

    errors = sorted(validator_class(schema).iter_errors(compose), key=lambda error: list(error.path))

    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_compose_schema_rejects_invalid_file(compose):
    """The schema check can fail: a service with an unknown key is rejected."""
    schema = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "helthcheck": {}}}}

    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(broken)


def test_every_service_has_healthcheck(compose):
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"service {name} has no health check"
        assert service["healthcheck"]["test"], f"service {name} has an empty health check"
        assert not service["healthcheck"].get("disable"), f"service {name} disables its health check"


def test_services_wait_for_healthy_dependencies(compose):
    for name, service in compose["services"].items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", f"{name} starts before {dependency} is healthy"
    for name in SEMREC_SERVICES:
        assert set(compose["services"][name]["depends_on"]) == {"db", "redis"}


def test_compose_services_and_volumes(compose):
    services = compose["services"]

    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:")
    for name in SEMREC_SERVICES:
        assert services[name]["command"] == [name], f"service {name} starts another role"
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "artifacts:/var/lib/semrec" in services["web"]["volumes"]
    assert {"pgdata", "artifacts"} <= set(compose["volumes"])
    assert services["web"]["environment"]["WEB_CONCURRENCY"] == "${WEB_CONCURRENCY:-4}"
    assert services["flower"]["profiles"] == ["flower"]


def test_gpu_worker_reserves_nvidia_gpu_behind_profile(compose):
    gpu = compose["services"]["worker-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]

    assert gpu["profiles"] == ["gpu"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile.gpu"


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([_tool("hadolint"), str(DOCKER / dockerfile)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_bad_dockerfile(tmp_path):
    """hadolint really runs: a Dockerfile with known faults fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install django\nCMD python app.py\n")

    result = subprocess.run([_tool("hadolint"), str(bad)], capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "DL3006" in result.stdout


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_final_stage_is_small_and_unprivileged(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]

    assert text.count("\nFROM ") == 2, "expected a build stage and a final stage"
    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert "COPY --from=build /opt/venv /opt/venv" in final_stage
    # No compilers, pip runs or package caches in the final stage.
    assert "pip install" not in final_stage
    assert not re.search(r"\b(gcc|g\+\+|build-essential|python3\.12-venv)\b", final_stage)
    if "apt-get install" in final_stage:
        assert "rm -rf /var/lib/apt/lists/*" in final_stage
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in final_stage


def test_images_install_locked_requirements_and_matching_torch():
    cpu = (DOCKER / "Dockerfile").read_text()
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    lock = (DOCKER / "requirements.txt").read_text()

    for text in (cpu, gpu):
        assert "pip install --requirement docker/requirements.txt" in text
        assert "ARG TORCH_VERSION=2.13.0" in text
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in cpu
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130" in gpu
    assert "ARG CUDA_IMAGE=nvidia/cuda:13.0" in gpu
    assert "collectstatic" in cpu
    # Every dependency is pinned, and torch is left to the images.
    pins = [line for line in lock.splitlines() if line and not line.startswith(("#", " "))]
    assert pins and all(re.fullmatch(r"[a-z0-9._-]+==[^=\s]+", line) for line in pins), pins
    assert not any(line.startswith("torch==") for line in pins)
    assert "# torch" in lock


def test_lock_pins_match_pyproject_bounds():
    """The lock satisfies the dependency ranges in pyproject.toml (it was compiled from them)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(
        line.split("==") for line in (DOCKER / "requirements.txt").read_text().splitlines()
        if line and not line.startswith(("#", " "))
    )
    for spec in project["dependencies"] + project["optional-dependencies"]["production"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        if name == "torch":
            continue
        assert name in pins, f"{name} is missing from docker/requirements.txt; recompile it"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {spec}"


def test_entrypoint_passes_shellcheck():
    result = subprocess.run(
        [_tool("shellcheck"), "--shell=sh", str(DOCKER / "entrypoint.sh")], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _variables_read() -> set[str]:
    """Names of environment variables that settings, semrec.ops and docker/ read."""
    names = set()
    settings = (ROOT / "platform" / "semrec" / "settings.py").read_text()
    names |= set(re.findall(r"env\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", settings))
    for path in [*(ROOT / "platform" / "semrec" / "ops").rglob("*.py"), DOCKER / "gunicorn.conf.py"]:
        names |= set(re.findall(r"os\.environ(?:\.get)?[(\[]\"([A-Z][A-Z0-9_]+)\"", path.read_text()))
    for path in (DOCKER / "entrypoint.sh", DOCKER / "compose.yaml"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", path.read_text()))
    return names


def test_env_example_lists_every_variable():
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    read = _variables_read()

    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "WEB_CONCURRENCY"} <= read
    assert read - listed == set(), "variables missing from .env.example"
