"""Cross-field checks of the deploy files that no JSON schema can express.

Run by scripts/lint-deploy.sh with the lint venv's Python (PyYAML comes with
kubernetes-validate). Prints one line per problem and exits 1 if there is any.

- render-job.yaml: an Indexed Job whose FACTORY_SHARD_COUNT equals `completions` (the engine's
  `--shard auto` divides the batch by FACTORY_SHARD_COUNT; the Job runs `completions` indexes:
  if they differ, shards are missing or overlap), `--shard auto`, an --out per index,
  parallelism <= completions, maxFailedIndexes < completions, PGPASSWORD from a Secret,
  memory request/limit present, restartPolicy Never (podFailurePolicy needs it).
- rerun-shard-job.yaml: the same FACTORY_SHARD_COUNT as render-job.yaml.
- merge-job.yaml: `merge` over the same run directory the render Job writes.
- the GitHub Actions workflow: a matrix over shards capped at 256, `--shard I/N`, artifacts
  downloaded one directory each (merge-multiple false) with the names render uploads.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
GHA = ROOT / "deploy" / "github-actions" / "regional-packs.yml"

problems = []


def problem(path, msg):
    problems.append(f"{path.relative_to(ROOT)}: {msg}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def container(job, name):
    for c in job["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise KeyError(name)


def env_map(c):
    return {e["name"]: e for e in c.get("env", [])}


def check_render(path):
    job = load(path)
    spec = job["spec"]
    pod = spec["template"]["spec"]
    c = container(job, "render")
    env = env_map(c)
    args = c.get("args", [])
    if spec.get("completionMode") != "Indexed":
        problem(path, "completionMode must be Indexed (JOB_COMPLETION_INDEX is set only then)")
    n = spec.get("completions")
    count = env.get("FACTORY_SHARD_COUNT", {}).get("value")
    if str(n) != str(count):
        problem(path, f"env FACTORY_SHARD_COUNT={count!r} must equal completions={n!r}")
    if spec.get("parallelism", 1) > (n or 0):
        problem(path, "parallelism exceeds completions")
    if "backoffLimitPerIndex" not in spec:
        problem(path, "backoffLimitPerIndex missing (retries must be per shard)")
    if spec.get("maxFailedIndexes", 0) >= (n or 0):
        problem(path, "maxFailedIndexes must be below completions")
    if pod.get("restartPolicy") != "Never":
        problem(path, "restartPolicy must be Never (podFailurePolicy)")
    if "--shard" not in args or args[args.index("--shard") + 1] != "auto":
        problem(path, "args must contain --shard auto")
    out = args[args.index("--out") + 1] if "--out" in args else ""
    if "$(JOB_COMPLETION_INDEX)" not in out or not re.search(r"/shard-\$\(JOB_COMPLETION_INDEX\)$", out):
        problem(path, f"--out must end in /shard-$(JOB_COMPLETION_INDEX) (merge --parts-under reads shard-*), got {out!r}")
    check_pg_and_resources(path, c)
    return n, out.rsplit("/", 1)[0]


def check_pg_and_resources(path, c):
    pg = env_map(c).get("PGPASSWORD", {})
    if "secretKeyRef" not in pg.get("valueFrom", {}):
        problem(path, f"{c['name']}: PGPASSWORD must come from a Secret (secretKeyRef)")
    res = c.get("resources", {})
    if "memory" not in res.get("requests", {}) or "memory" not in res.get("limits", {}):
        problem(path, f"{c['name']}: memory request and limit required")


def check_rerun(path, n):
    job = load(path)
    c = container(job, "render")
    count = env_map(c).get("FACTORY_SHARD_COUNT", {}).get("value")
    if str(count) != str(n):
        problem(path, f"FACTORY_SHARD_COUNT={count!r} must equal render-job.yaml completions={n!r}")
    check_pg_and_resources(path, c)


def check_merge(path, run_dir):
    job = load(path)
    c = container(job, "merge")
    args = c.get("args", [])
    if not args or args[0] != "merge":
        problem(path, "the merge container must run `factory merge`")
    under = args[args.index("--parts-under") + 1] if "--parts-under" in args else None
    if under != run_dir:
        problem(path, f"--parts-under {under!r} must be the render Job's run directory {run_dir!r}")
    check_pg_and_resources(path, c)


def check_workflow(path):
    wf = load(path)
    # PyYAML reads the key `on` as True (YAML 1.1); accept both.
    on = wf.get("on", wf.get(True, {}))
    if "schedule" not in on or "workflow_dispatch" not in on:
        problem(path, "needs both a schedule and workflow_dispatch trigger")
    text = path.read_text(encoding="utf-8")
    if "n > 256" not in text:
        problem(path, "the plan job must refuse more than 256 shards (matrix limit)")
    jobs = wf["jobs"]
    render = jobs.get("render", {})
    if "shard" not in render.get("strategy", {}).get("matrix", {}):
        problem(path, "render job needs a matrix over `shard`")
    if render.get("strategy", {}).get("fail-fast", True):
        problem(path, "render matrix must set fail-fast: false")
    run = "\n".join(s.get("run", "") for s in render.get("steps", []))
    if '--shard "$SHARD/$COUNT"' not in run:
        problem(path, "render must call --shard I/N")
    uploads = [s for s in render.get("steps", []) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    if not uploads or uploads[0]["with"]["name"] != "shard-${{ matrix.shard }}":
        problem(path, "render must upload its part as artifact shard-${{ matrix.shard }}")
    downloads = [s for s in jobs.get("merge", {}).get("steps", [])
                 if str(s.get("uses", "")).startswith("actions/download-artifact") and "pattern" in s.get("with", {})]
    if not downloads or downloads[0]["with"].get("pattern") != "shard-*" \
            or downloads[0]["with"].get("merge-multiple") is not False:
        problem(path, "merge must download pattern shard-* with merge-multiple: false")


def check_every_indexed_job():
    """Any Indexed Job under deploy/kubernetes (object-store variant too): count = completions."""
    for path in sorted(K8S.rglob("*.yaml")):
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for d in docs:
            spec = d.get("spec", {}) if isinstance(d, dict) else {}
            if d.get("kind") != "Job" or spec.get("completionMode") != "Indexed":
                continue
            for c in spec["template"]["spec"]["containers"]:
                count = env_map(c).get("FACTORY_SHARD_COUNT", {}).get("value")
                if count is not None and str(count) != str(spec.get("completions")):
                    problem(path, f"{d['metadata']['name']}/{c['name']}: FACTORY_SHARD_COUNT={count!r} "
                                  f"must equal completions={spec.get('completions')!r}")


def main():
    check_every_indexed_job()
    n, run_dir = check_render(K8S / "render-job.yaml")
    check_rerun(K8S / "rerun-shard-job.yaml", n)
    check_merge(K8S / "merge-job.yaml", run_dir)
    check_workflow(GHA)
    for p in problems:
        print(f"check_deploy: {p}")
    if problems:
        sys.exit(1)
    print("check_deploy: ok (shard count = completions, --shard auto, per-index --out, merge over the "
          "same run directory, workflow matrix <= 256 with shard-* artifacts)")


if __name__ == "__main__":
    main()
