"""The image definitions, statically: deploy/Dockerfile (built from source where a registry
is reachable) and deploy/image/weir.Containerfile (assembled here by scripts/images) must give
the same runtime image, and so must the broker's pair. That the images run as intended is
tests/pool/test_image.py."""

import re

from conftest import DEPLOY

PAIRS = [
    (DEPLOY / "Dockerfile", DEPLOY / "image" / "weir.Containerfile"),
    (DEPLOY / "tansu.Dockerfile", DEPLOY / "image" / "tansu.Containerfile"),
]
MARKER = "# --- runtime image ---"


def instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def runtime_part(path) -> list[str]:
    text = path.read_text()
    assert text.count(MARKER) == 1, f"{path.name} marks its runtime part once"
    return instructions(text.split(MARKER, 1)[1])


def test_the_registry_build_and_the_local_build_give_the_same_runtime_image():
    for dockerfile, containerfile in PAIRS:
        assert runtime_part(dockerfile) == runtime_part(containerfile), (dockerfile.name, containerfile.name)


def test_the_registry_build_is_multi_stage_onto_scratch_and_non_root():
    for dockerfile, _ in PAIRS:
        steps = instructions(dockerfile.read_text())
        froms = [s for s in steps if s.startswith("FROM ")]
        assert len(froms) == 2 and " AS build" in froms[0] and froms[1] == "FROM scratch", froms
        runtime = runtime_part(dockerfile)
        users = [s for s in runtime if s.startswith("USER ")]
        assert users == ["USER 65532:65532"], users
        assert "COPY --from=build /rootfs/ /" in steps, "the build stage's rootfs is the image"
    weir = runtime_part(DEPLOY / "Dockerfile")
    health = [s for s in weir if s.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and 'CMD ["/usr/local/bin/weir-probe", "/healthz"]' in health[0]
    assert 'ENTRYPOINT ["/usr/local/bin/weir"]' in weir
