"""``make package``: the deployable CloudFormation template and zip in ``out/``, linted.

Steps: read the functions from the Chalice app, build the merge template from
``infra/resources.json``, stage a copy of the project with the chosen dependency
strategy (ADR 0001: PynamoDB vendored without botocore, the Lambda runtime provides
boto3/botocore), run ``chalice package --merge-template``, harden sandboxed functions,
add every module's bytecode to the zip (Lambda cannot cache it), then run cfn-lint and
the security scan (checkov, :mod:`infra.scan`) on ``out/sam.json``.

    python -m infra.package [--stage prod] [--out out] [--bundle-botocore] [--no-lint]
                            [--no-scan] [--no-precompile] [--upgrade-step N]

``--upgrade-step N``: the template of step N of upgrading a stack made before 2026-12-04
(:mod:`infra.upgrade`; docs/deploy.md, "Upgrading").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.functions import FunctionSpec, discover
from infra.merge import build_merge_template, harden_sandboxed
from infra.upgrade import STEPS

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "infra" / "resources.json"
# Packages whose only heavy dependency is botocore: installed into vendor/ without their
# dependencies, so the zip relies on the runtime's boto3/botocore (ADR 0001).
VENDORED_NO_DEPS = ("pynamodb",)
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Package:
    template: Path
    zip: Path
    merge_template: Path
    functions: list[FunctionSpec]


def load_resources() -> dict[str, Any]:
    return json.loads(RESOURCES.read_text())


def chalice_config(root: Path = ROOT) -> dict[str, Any]:
    return json.loads((root / ".chalice" / "config.json").read_text())


def stage_variable(stage: str, name: str, root: Path = ROOT) -> str | None:
    config = chalice_config(root)
    stage_env = config.get("stages", {}).get(stage, {}).get("environment_variables", {})
    return stage_env.get(name) or config.get("environment_variables", {}).get(name)


def app_functions(resources: dict[str, Any], root: Path = ROOT) -> list[FunctionSpec]:
    """Import the app (no environment needed: settings load lazily) and list its functions."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from app import app

    return discover(app, resources["Resources"])


def merge_template(
    stage: str, root: Path = ROOT, *, upgrade_step: int | None = None
) -> tuple[dict[str, Any], list[FunctionSpec]]:
    resources = load_resources()
    if upgrade_step is not None:
        from infra.upgrade import at_step

        resources = at_step(resources, upgrade_step)
    specs = app_functions(resources, root)
    return build_merge_template(resources, specs), specs


def _split_requirements(text: str, bundle_botocore: bool) -> tuple[str, list[str]]:
    """Requirements for Chalice, and the pins to vendor without their dependencies."""
    keep, vendored = [], []
    for line in text.splitlines():
        name = line.split("==")[0].split("[")[0].strip().lower()
        if not bundle_botocore and name in VENDORED_NO_DEPS:
            vendored.append(line.strip())
        else:
            keep.append(line)
    return "\n".join(keep) + "\n", vendored


def stage_project(build: Path, *, bundle_botocore: bool, root: Path = ROOT) -> Path:
    """A copy of what Chalice packages (app, chalicelib, config, requirements, vendor)."""
    project = build / "project"
    for stale in ("app.py", "chalicelib", "vendor", "requirements.txt"):
        target = project / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    (project / ".chalice").mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "app.py", project / "app.py")
    shutil.copytree(
        root / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for source in (root / ".chalice").glob("*.json"):
        shutil.copy2(source, project / ".chalice" / source.name)
    requirements, vendored = _split_requirements(
        (root / "requirements.txt").read_text(), bundle_botocore
    )
    (project / "requirements.txt").write_text(requirements)
    if vendored:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"),
                *("--no-deps", "--no-compile", "--only-binary=:all:"),
                *("--target", str(project / "vendor"), *vendored),
            ],
            check=True,
        )
    return project


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def build(
    stage: str = "prod",
    out: Path = ROOT / "out",
    *,
    bundle_botocore: bool = False,
    root: Path = ROOT,
    upgrade_step: int | None = None,
    precompile: bool = True,
) -> Package:
    """Run the whole packaging step except linting; returns where things are."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    merged, specs = merge_template(stage, root, upgrade_step=upgrade_step)
    merge_path = out / "merge-template.json"
    merge_path.write_text(json.dumps(merged, indent=2) + "\n")
    project = stage_project(out / ".build", bundle_botocore=bundle_botocore, root=root)
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_path), str(out)],
        cwd=project,
        env=_env(),
        check=True,
    )
    template_path = out / "sam.json"
    template = json.loads(template_path.read_text())
    harden_sandboxed(template, specs)
    template_path.write_text(json.dumps(template, indent=2) + "\n")
    if precompile:
        add_bytecode(out / "deployment.zip", runtimes(template))
    return Package(template_path, out / "deployment.zip", merge_path, specs)


def runtimes(template: dict[str, Any]) -> set[str]:
    """The Lambda runtimes of the template's functions (``python3.11``...)."""
    return {
        resource["Properties"]["Runtime"]
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Serverless::Function"
        and "Runtime" in resource.get("Properties", {})
    }


def add_bytecode(archive: Path, runtimes: set[str]) -> int:
    """Put each module's compiled bytecode beside it in the zip; returns how many.

    Lambda's code directory is read-only, so Python cannot cache what it compiles: without
    ``__pycache__`` in the zip every cold start compiles every module it imports from
    source (ours and the bundled libraries'; issue 19). The files are unchecked hash-based
    ``.pyc`` (PEP 552): Python loads them without comparing the source's timestamp, which a
    zip does not keep exactly, and the code never changes once deployed. Bytecode belongs
    to one Python version: ``chalice package`` picks the runtime of the Python that runs
    it, and a different one is refused here rather than shipped useless.
    """
    import compileall
    import py_compile
    import tempfile
    import zipfile

    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtimes != {ours}:
        raise SystemExit(f"bytecode compiled by {ours} cannot serve runtimes {sorted(runtimes)}")
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        with zipfile.ZipFile(archive) as source:
            entries = [
                (info, source.read(info))
                for info in source.infolist()
                if "__pycache__/" not in info.filename
            ]
            source.extractall(tree)
        # a module that does not compile (a vendored test fixture) is skipped, as pip does
        compileall.compile_dir(
            tree,
            quiet=2,
            workers=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        compiled = sorted(tree.rglob("__pycache__/*.pyc"))
        rebuilt = archive.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as target:
            for info, data in entries:
                target.writestr(info, data)
            for pyc in compiled:
                info = zipfile.ZipInfo(pyc.relative_to(tree).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(info, pyc.read_bytes())
        rebuilt.replace(archive)
    return len(compiled)


def lint(template: Path) -> subprocess.CompletedProcess[str]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run(
        [str(cfn_lint), str(template)], capture_output=True, text=True, env=_env()
    )


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument(
        "--bundle-botocore",
        action="store_true",
        help="install PynamoDB with its dependencies (botocore in the zip); for comparison",
    )
    parser.add_argument(
        "--no-precompile",
        action="store_true",
        help="leave the bytecode out of the zip (compiled on each cold start); for comparison",
    )
    parser.add_argument("--no-lint", action="store_true")
    parser.add_argument("--no-scan", action="store_true", help="skip checkov (infra/scan.py)")
    parser.add_argument(
        "--upgrade-step",
        type=int,
        choices=range(1, STEPS),
        help="a step of upgrading a stack made before 2026-12-04 (docs/deploy.md)",
    )
    args = parser.parse_args(argv)
    package = build(
        args.stage,
        args.out,
        bundle_botocore=args.bundle_botocore,
        upgrade_step=args.upgrade_step,
        precompile=not args.no_precompile,
    )
    print(f"functions: {', '.join(s.logical_id for s in package.functions)}")
    print(f"merge template: {package.merge_template} ({_size(package.merge_template)})")
    print(f"template:       {package.template} ({_size(package.template)})")
    print(f"code:           {package.zip} ({_size(package.zip)})")
    if args.no_lint:
        return 0
    result = lint(package.template)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        print(f"cfn-lint failed on {package.template}", file=sys.stderr)
        return 1
    print("cfn-lint: clean")
    if not args.no_scan:
        from infra.scan import main as scan_main

        if scan_main([str(package.template)]) != 0:
            print(f"security scan failed on {package.template} (infra/scan.py)", file=sys.stderr)
            return 1
    print(
        "deploy: aws cloudformation package --template-file out/sam.json "
        "--s3-bucket <bucket> --output-template-file out/packaged.json  (see docs/deploy.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
