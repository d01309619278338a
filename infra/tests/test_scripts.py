"""The deployment scripts, run against stub `aws`, `sam`, `cargo` and `rustup` commands.

No AWS call and no compilation: each stub records its arguments (and working directory) in a log and
answers what the scripts read back (stack outputs, a fake arm64 bootstrap, ...).
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ["postback", "leads", "stage", "analytics", "counters", "webhooks"]
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
KEY_NAMES = ["/leadpipe/leadpipe/api-key", "/leadpipe/leadpipe/admin-api-key", "/leadpipe/leadpipe/public-api-key"]
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:leadpipe/keys-AbCdEf"
OUTPUTS = [
    {"OutputKey": "ApiUrl", "OutputValue": API_URL},
    {"OutputKey": "PostbackUrl", "OutputValue": API_URL + "/api/postback"},
    {"OutputKey": "DashboardUrl", "OutputValue": "https://d111111abcdef8.cloudfront.net"},
    {"OutputKey": "DashboardBucket", "OutputValue": "leadpipe-dashboardbucket-1x2y3z"},
    {"OutputKey": "DistributionId", "OutputValue": "E2QWRUHEXAMPLE"},
    {"OutputKey": "TableName", "OutputValue": "leadpipe-LeadsTable-ABC"},
    {"OutputKey": "KeySource", "OutputValue": "ssm"},
    {"OutputKey": "ApiKeyParameter", "OutputValue": KEY_NAMES[0]},
    {"OutputKey": "AdminApiKeyParameter", "OutputValue": KEY_NAMES[1]},
    {"OutputKey": "PublicApiKeyParameter", "OutputValue": KEY_NAMES[2]},
]
SECRET_OUTPUTS = [o for o in OUTPUTS if not o["OutputKey"].endswith("KeyParameter") and o["OutputKey"] != "KeySource"] + [
    {"OutputKey": "KeySource", "OutputValue": "secretsmanager"},
    {"OutputKey": "KeysSecretArn", "OutputValue": SECRET_ARN},
]
KEY_A = "a" * 40
KEY_B = "b" * 40
KEY_C = "c" * 40

AWS_STUB = r"""#!/usr/bin/env bash
# An SSM Parameter Store in $STUB_SSM (one file per parameter, / written as %) and a secret in $STUB_SECRET.
printf 'aws %s\n' "$*" >> "$STUB_LOG"
input_file() { for a in "$@"; do case "$a" in file://*) printf '%s' "${a#file://}" ;; esac; done; }
case "$1 $2" in
  "cloudformation describe-stacks") cat "$STUB_OUTPUTS" ;;
  "s3 cp") cp "$3" "$STUB_CAPTURE/$(basename "$3")" ;;
  "cloudfront create-invalidation") echo I2J3EXAMPLE ;;
  "ssm get-parameter")
    name=""
    while [ "$#" -gt 0 ]; do [ "$1" = --name ] && name="$2"; shift; done
    f="$STUB_SSM/$(printf '%s' "$name" | tr / %)"
    if [ -f "$f" ]; then cat "$f"; echo; else
      echo "An error occurred (ParameterNotFound) when calling the GetParameter operation: " >&2; exit 254; fi ;;
  "ssm put-parameter")
    f="$(input_file "$@")"
    n=$(ls "$STUB_CAPTURE" | grep -c '^put-' || true)
    cp "$f" "$STUB_CAPTURE/put-$n.json"
    python3 - "$f" "$STUB_SSM" <<'EOF' || exit 254
import json, os, sys
d = json.load(open(sys.argv[1]))
p = os.path.join(sys.argv[2], d["Name"].replace("/", "%"))
if os.path.exists(p) and not d.get("Overwrite"):
    sys.exit("An error occurred (ParameterAlreadyExists)")
open(p, "w").write(d["Value"])
EOF
    ;;
  "secretsmanager get-secret-value") cat "$STUB_SECRET" ;;
  "secretsmanager put-secret-value")
    f="$(input_file "$@")"
    cp "$f" "$STUB_CAPTURE/put-secret.json"
    python3 -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["SecretString"])' "$f" "$STUB_SECRET" ;;
esac
exit 0
"""

SAM_STUB = r"""#!/usr/bin/env bash
printf 'sam %s [cwd=%s beta=%s]\n' "$*" "$PWD" "${SAM_CLI_BETA_RUST_CARGO_LAMBDA:-}" >> "$STUB_LOG"
if [ "$1" = deploy ] && [[ " $* " == *" --guided "* ]]; then
  printf 'version = 0.1\n[default.deploy.parameters]\nstack_name = "guided-stack"\nregion = "eu-west-1"\n' > samconfig.toml
fi
exit 0
"""

CARGO_STUB = r"""#!/usr/bin/env bash
printf 'cargo %s [cwd=%s]\n' "$*" "$PWD" >> "$STUB_LOG"
if [ "$1 $2" = "lambda --version" ]; then echo "cargo-lambda 1.9.2"; exit 0; fi
if [ "$1 $2" = "lambda build" ]; then
  shift 2
  while [ "$#" -gt 0 ]; do
    if [ "$1" = --bin ]; then
      mkdir -p "target/lambda/$2"
      # 64-byte ELF header stub: e_machine (offset 18) = 0xB7 (AArch64), then padding
      python3 -c "import sys; sys.stdout.buffer.write(b'\x7fELF' + b'\x02\x01\x01' + b'\0'*9 + b'\x02\0' + b'\xb7\0' + b'\0'*5000)" > "target/lambda/$2/bootstrap"
      shift
    fi
    shift
  done
fi
exit 0
"""

RUSTUP_STUB = r"""#!/usr/bin/env bash
printf 'rustup %s\n' "$*" >> "$STUB_LOG"
[ "$1 $2 $3" = "target list --installed" ] && printf 'x86_64-unknown-linux-gnu\naarch64-unknown-linux-gnu\n'
exit 0
"""


class Repo:
    def __init__(self, root: Path):
        self.root = root
        for rel in ["scripts/deploy.sh", "scripts/teardown.sh", "scripts/lambda-build.sh",
                    "infra/deploy_helpers.py", "infra/template.yaml", "infra/samconfig.example.toml"]:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / rel, root / rel)
        for f in FUNCTIONS:
            (root / "functions" / f).mkdir(parents=True)
            shutil.copy(REPO / "functions" / f / "Cargo.toml", root / "functions" / f / "Cargo.toml")
        # code that reads the keys from the key store (deploy.sh refuses code that does not)
        (root / "shared" / "core" / "src").mkdir(parents=True)
        (root / "shared" / "core" / "src" / "keys.rs").write_text(
            '//! reads API_KEY_PARAMETER, ADMIN_API_KEY_PARAMETER, PUBLIC_API_KEY_PARAMETER or KEYS_SECRET_ARN\n')
        site = root / "static-site"
        (site / "js").mkdir(parents=True)
        (site / "index.html").write_text("<!doctype html><title>Leadpipe</title>")
        (site / "config.js").write_text('window.LEADPIPE_CONFIG = { apiBaseUrl: "" };\n')
        (site / "js" / "app.js").write_text("export {};\n")
        self.bin = root / "stub-bin"
        self.bin.mkdir()
        for name, body in {"aws": AWS_STUB, "sam": SAM_STUB, "cargo": CARGO_STUB, "rustup": RUSTUP_STUB,
                           "cargo-lambda": CARGO_STUB}.items():
            p = self.bin / name
            p.write_text(body)
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log = root / "stub.log"
        self.capture = root / "capture"
        self.capture.mkdir()
        self.outputs = root / "outputs.json"
        self.outputs.write_text(json.dumps(OUTPUTS))
        self.ssm = root / "ssm"
        self.ssm.mkdir()
        self.secret = root / "secret.json"
        self.secret.write_text("{}")

    def put_ssm(self, name: str, value: str) -> None:
        (self.ssm / name.replace("/", "%")).write_text(value)

    def ssm_value(self, name: str) -> str | None:
        p = self.ssm / name.replace("/", "%")
        return p.read_text() if p.exists() else None

    def with_stored_keys(self) -> None:
        self.put_ssm(KEY_NAMES[0], KEY_A)
        self.put_ssm(KEY_NAMES[1], KEY_B)

    def puts(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.capture.glob("put-[0-9]*.json"))]

    def use_example_samconfig(self) -> None:
        shutil.copy(self.root / "infra" / "samconfig.example.toml", self.root / "infra" / "samconfig.toml")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "LEADPIPE_")) and k not in ("STACK_NAME", "CARGO_TARGET_DIR")}
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}", STUB_LOG=str(self.log),
                   STUB_CAPTURE=str(self.capture), STUB_OUTPUTS=str(self.outputs), STUB_SSM=str(self.ssm),
                   STUB_SECRET=str(self.secret))
        return env

    def run(self, script: str, *args: str, tty: bool = False, env: dict | None = None,
            stdin: str | None = None, typed: bytes = b"") -> subprocess.CompletedProcess:
        """Runs a script; with tty=True its stdin is a terminal on which `typed` has been typed."""
        full_env = self.env()
        full_env.update(env or {})
        cmd = ["bash", str(self.root / "scripts" / script), *args]
        if tty:
            master, slave = pty.openpty()
            try:
                if typed:
                    os.write(master, typed)
                return subprocess.run(cmd, stdin=slave, capture_output=True, text=True, env=full_env,
                                      cwd=self.root, timeout=60)
            finally:
                os.close(master)
                os.close(slave)
        return subprocess.run(cmd, input=stdin if stdin is not None else "", capture_output=True, text=True,
                              env=full_env, cwd=self.root, timeout=60)

    def calls(self, prefix: str = "") -> list[str]:
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


# ---------------------------------------------------------------- lambda-build.sh

def test_lambda_build_builds_all_six_for_arm64_and_prints_sizes(repo):
    r = repo.run("lambda-build.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    builds = repo.calls("cargo lambda build")
    assert len(builds) == 1
    assert builds[0].startswith("cargo lambda build --release --arm64 --bin postback --bin leads "
                                "--bin stage --bin analytics --bin counters ")
    assert f"[cwd={repo.root}]" in builds[0]
    for f in FUNCTIONS:
        assert re.search(rf"^{f}\s+\d+ B \([0-9.]+ MiB\)\s+\d+ B \([0-9.]+ MiB\)\s+aarch64$", r.stdout, re.M), r.stdout
    assert not repo.calls("rustup target add"), "target already installed: must not be added again"


def test_lambda_build_adds_missing_target(repo):
    (repo.bin / "rustup").write_text(RUSTUP_STUB.replace("\\naarch64-unknown-linux-gnu", ""))
    r = repo.run("lambda-build.sh", "stage")
    assert r.returncode == 0, r.stdout + r.stderr
    assert repo.calls("rustup target add aarch64-unknown-linux-gnu")
    assert repo.calls("cargo lambda build")[0].startswith("cargo lambda build --release --arm64 --bin stage ")


def test_lambda_build_rejects_unknown_function(repo):
    r = repo.run("lambda-build.sh", "nope")
    assert r.returncode != 0
    assert "unknown function 'nope'" in r.stderr
    assert not repo.calls("cargo lambda build")


def test_lambda_build_fails_on_non_arm64_binary(repo):
    (repo.bin / "cargo").write_text(CARGO_STUB.replace(r"\xb7\0", r"\x3e\0"))
    r = repo.run("lambda-build.sh")
    assert r.returncode != 0
    assert "x86_64" in r.stdout and "not built for aarch64" in r.stderr


# ---------------------------------------------------------------- deploy.sh

def no_key_in_arguments(repo, *values: str) -> None:
    """Keys never appear on a command line (visible to every user of the machine in ps)."""
    log = repo.log.read_text() if repo.log.exists() else ""
    for v in values:
        assert v not in log, "a key was passed as a command-line argument"


def test_first_deploy_without_terminal_explains(repo):
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode != 0
    assert "needs a terminal" in r.stderr
    assert not repo.calls("sam deploy")


def test_deploy_refuses_code_that_does_not_read_the_key_store(repo):
    (repo.root / "shared" / "core" / "src" / "keys.rs").unlink()
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode != 0
    assert "does not read API_KEY_PARAMETER / KEYS_SECRET_ARN" in r.stderr
    assert "without key checks" in r.stderr
    assert not repo.calls("sam") and not repo.calls("cargo")


def test_sam_build_finds_cargo_lambda_from_the_project_venv(repo):
    # cargo-lambda is installed only into .cache/venv (scripts/lib/tools.sh); SAM's rust-cargolambda builder
    # looks for it on PATH, so deploy.sh must put the venv's bin there for `sam build` (issue 24, finding 1).
    venv_bin = repo.root / ".cache" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    tool = venv_bin / "cargo-lambda"
    tool.write_text("#!/usr/bin/env bash\necho 'cargo-lambda 1.9.2'\n")
    tool.chmod(0o755)
    (repo.bin / "cargo-lambda").unlink()
    (repo.bin / "sam").write_text(SAM_STUB.replace(
        "exit 0\n", 'printf "cargo-lambda=%s\\n" "$(command -v cargo-lambda)" >> "$STUB_LOG"\nexit 0\n', 1))
    repo.use_example_samconfig()
    path = os.pathsep.join(d for d in repo.env()["PATH"].split(os.pathsep)
                           if d and not (Path(d) / "cargo-lambda").exists())
    r = repo.run("deploy.sh", "--skip-build",
                 env={"PATH": path, "LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode == 0, r.stdout + r.stderr
    # every sam call (build and deploy) saw the venv's cargo-lambda
    assert set(repo.calls("cargo-lambda=")) == {f"cargo-lambda={tool}"}


def test_sam_build_without_cargo_lambda_says_how_to_install_it(repo):
    (repo.bin / "cargo-lambda").unlink()
    repo.use_example_samconfig()
    path = os.pathsep.join(d for d in repo.env()["PATH"].split(os.pathsep)
                           if d and not (Path(d) / "cargo-lambda").exists())
    r = repo.run("deploy.sh", "--skip-build",
                 env={"PATH": path, "LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode != 0
    assert "cargo-lambda not found" in r.stderr and "scripts/setup.sh" in r.stderr
    assert not repo.calls("sam")


def test_docs_and_scripts_count_six_functions():
    words = {"four": 4, "five": 5, "six": 6, "seven": 7}
    for rel in ["docs/DEPLOY.md", "infra/template.yaml", "scripts/teardown.sh", "scripts/deploy.sh",
                "scripts/lambda-build.sh"]:
        text = (REPO / rel).read_text()
        for m in re.finditer(r"\b(four|five|six|seven)\s+(?:Rust\s+)?(?:Lambda\s+functions|Lambdas|functions)\b",
                             text, re.IGNORECASE):
            assert words[m.group(1).lower()] == len(FUNCTIONS), f"{rel}: {m.group(0)!r}"


def test_first_deploy_is_guided_then_creates_the_keys_and_uploads_dashboard(repo):
    # Enter, Enter: generate the ingest and admin keys; Enter: no public key
    r = repo.run("deploy.sh", "--skip-build", tty=True, typed=b"\n\n\n")
    assert r.returncode == 0, r.stdout + r.stderr
    infra = repo.root / "infra"
    build = repo.calls("sam build")
    assert build == [f"sam build [cwd={infra} beta=1]"]
    deploy = repo.calls("sam deploy")
    assert deploy == [f"sam deploy --guided --no-fail-on-empty-changeset [cwd={infra} beta=]"]
    # stack name and region come from the samconfig.toml that the guided deploy saved
    assert any("cloudformation describe-stacks --stack-name guided-stack --region eu-west-1" in c
               for c in repo.calls("aws"))
    # the two required keys were created as SecureString parameters, the optional public key was not
    puts = repo.puts()
    assert [(p["Name"], p["Type"], p["Overwrite"]) for p in puts] == [
        (KEY_NAMES[0], "SecureString", False), (KEY_NAMES[1], "SecureString", False)]
    api, admin = repo.ssm_value(KEY_NAMES[0]), repo.ssm_value(KEY_NAMES[1])
    assert re.fullmatch(r"[0-9a-f]{64}", api) and re.fullmatch(r"[0-9a-f]{64}", admin) and api != admin
    assert repo.ssm_value(KEY_NAMES[2]) is None
    # generated keys are shown once, and never passed on a command line
    assert api in r.stdout and admin in r.stdout
    no_key_in_arguments(repo, api, admin)
    assert "https://d111111abcdef8.cloudfront.net" in r.stdout


def test_typed_keys_are_stored_and_not_printed(repo):
    r = repo.run("deploy.sh", "--skip-build", tty=True, typed=f"{KEY_A}\n{KEY_B}\n{KEY_C}\n".encode())
    assert r.returncode == 0, r.stdout + r.stderr
    assert [repo.ssm_value(n) for n in KEY_NAMES] == [KEY_A, KEY_B, KEY_C]
    assert KEY_A not in r.stdout and KEY_B not in r.stdout and KEY_C not in r.stdout
    no_key_in_arguments(repo, KEY_A, KEY_B, KEY_C)


def test_later_deploy_is_plain_and_writes_config_js(repo):
    repo.use_example_samconfig()
    repo.with_stored_keys()
    r = repo.run("deploy.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    # 1. lambda-build ran
    assert repo.calls("cargo lambda build --release --arm64")
    # 2-3. sam build and a plain sam deploy in infra/ (no parameter overrides: the keys did not change)
    assert [c.split(" [")[0] for c in repo.calls("sam")] == ["sam build", "sam deploy --no-fail-on-empty-changeset"]
    aws = repo.calls("aws")
    assert aws[0] == ("aws cloudformation describe-stacks --stack-name leadpipe --region us-east-1 "
                      "--query Stacks[0].Outputs --output json")
    # 4. keys: read, nothing written
    assert any(c.startswith(f"aws ssm get-parameter --name {KEY_NAMES[0]} --with-decryption") for c in aws)
    assert not repo.calls("aws ssm put-parameter")
    # 5. upload: everything but config.js synced, config.js generated from ApiUrl
    sync = next(c for c in aws if c.startswith("aws s3 sync"))
    assert f"{repo.root}/static-site/ s3://leadpipe-dashboardbucket-1x2y3z/ --delete --exclude config.js" in sync
    cp = next(c for c in aws if c.startswith("aws s3 cp"))
    assert cp.split()[4] == "s3://leadpipe-dashboardbucket-1x2y3z/config.js"
    assert "--cache-control no-cache, no-store, must-revalidate" in cp
    config = (repo.capture / "config.js").read_text()
    assert f'window.LEADPIPE_CONFIG = {{ apiBaseUrl: "{API_URL}" }};' in config.splitlines()
    # the repository's own static-site/config.js is left alone
    assert (repo.root / "static-site" / "config.js").read_text() == 'window.LEADPIPE_CONFIG = { apiBaseUrl: "" };\n'
    # 6. invalidation
    assert "aws cloudfront create-invalidation --distribution-id E2QWRUHEXAMPLE --paths /* " \
           "--query Invalidation.Id --output text" in aws
    assert "https://d111111abcdef8.cloudfront.net" in r.stdout
    assert f"{API_URL}/api/postback" in r.stdout
    assert "generated" not in r.stdout


def test_missing_keys_without_terminal_need_the_environment(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode != 0
    assert "the ingest key does not exist yet: set LEADPIPE_API_KEY" in r.stderr
    assert not repo.puts()


def test_missing_keys_from_environment(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode == 0, r.stdout + r.stderr
    assert [repo.ssm_value(n) for n in KEY_NAMES] == [KEY_A, KEY_B, None]
    assert all(p["Overwrite"] is False for p in repo.puts())
    # created after the deploy, so no KeysRevision was needed
    assert "--parameter-overrides" not in repo.calls("sam deploy")[0]
    no_key_in_arguments(repo, KEY_A, KEY_B)


def test_first_deploy_creates_the_keys_before_the_stack(repo):
    # no stack yet: describe-stacks answers nothing until `sam deploy` has created it (issue 24, finding 10)
    after = repo.root / "outputs.after.json"
    after.write_text(repo.outputs.read_text())
    repo.outputs.unlink()
    (repo.bin / "sam").write_text(SAM_STUB.replace(
        "exit 0\n", f'[ "$1" = deploy ] && cp "{after}" "$STUB_OUTPUTS"\nexit 0\n', 1))
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode == 0, r.stdout + r.stderr
    assert [repo.ssm_value(n) for n in KEY_NAMES] == [KEY_A, KEY_B, None]
    calls = repo.calls()
    puts = [i for i, c in enumerate(calls) if c.startswith("aws ssm put-parameter")]
    deploy = [i for i, c in enumerate(calls) if c.startswith("sam deploy")]
    assert len(puts) == 2 and deploy and max(puts) < deploy[0], calls
    assert "creating its keys before the stack" in r.stdout
    no_key_in_arguments(repo, KEY_A, KEY_B)


def test_planned_key_store_follows_the_samconfig_overrides(tmp_path):
    cfg = tmp_path / "samconfig.toml"
    cfg.write_text('version = 0.1\n[default.deploy.parameters]\nstack_name = "lp"\n'
                   'parameter_overrides = "KeySource=\\"ssm\\" ApiKeyParameterName=\\"/my/api\\""\n')
    out = subprocess.run(["python3", str(REPO / "infra" / "deploy_helpers.py"), "planned-key-store", str(cfg), "lp"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["KeySource=ssm", "ApiKeyParameter=/my/api", "AdminApiKeyParameter=/leadpipe/lp/admin-api-key",
                   "PublicApiKeyParameter=/leadpipe/lp/public-api-key"]
    cfg.write_text('version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "KeySource=secretsmanager"\n')
    out = subprocess.run(["python3", str(REPO / "infra" / "deploy_helpers.py"), "planned-key-store", str(cfg), "lp"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["KeySource=secretsmanager"]


def test_rotate_keys_writes_new_keys_then_deploys_a_new_revision(repo):
    repo.use_example_samconfig()
    repo.with_stored_keys()
    r = repo.run("deploy.sh", "--skip-build", "--rotate-keys")
    assert r.returncode == 0, r.stdout + r.stderr
    api, admin = repo.ssm_value(KEY_NAMES[0]), repo.ssm_value(KEY_NAMES[1])
    assert api not in (KEY_A, KEY_B) and admin not in (KEY_A, KEY_B) and api != admin
    assert [(p["Name"], p["Overwrite"]) for p in repo.puts()] == [(KEY_NAMES[0], True), (KEY_NAMES[1], True)]
    assert repo.ssm_value(KEY_NAMES[2]) is None, "no public key existed: none is created by a rotation"
    deploy = repo.calls("sam deploy")[0]
    m = re.search(r"--parameter-overrides (.*) \[cwd=", deploy)
    assert m, deploy
    overrides = m.group(1)
    # the samconfig.toml parameters are carried over, and the new revision makes every function read the keys
    assert 'PipelineStages="New,Form Started,Application Submitted,Paid,Completed"' in overrides
    assert re.search(r"\bKeysRevision=\d{8}T\d{6}Z\b", overrides)
    # the keys were written before the deploy
    log = repo.log.read_text()
    assert log.index("aws ssm put-parameter") < log.index("sam deploy")
    assert api in r.stdout and admin in r.stdout, "new keys must be shown once"
    no_key_in_arguments(repo, api, admin)


def test_rotate_keys_without_a_stack_fails(repo):
    repo.use_example_samconfig()
    repo.outputs.write_text("null")
    r = repo.run("deploy.sh", "--skip-build", "--rotate-keys")
    assert r.returncode != 0
    assert "nothing to rotate" in r.stderr
    assert not repo.calls("sam deploy")


def test_key_from_environment_replaces_the_stored_one(repo):
    repo.use_example_samconfig()
    repo.with_stored_keys()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_ADMIN_API_KEY": KEY_C})
    assert r.returncode == 0, r.stdout + r.stderr
    assert [repo.ssm_value(n) for n in KEY_NAMES[:2]] == [KEY_A, KEY_C]
    assert [(p["Name"], p["Overwrite"]) for p in repo.puts()] == [(KEY_NAMES[1], True)]
    assert "KeysRevision=" in repo.calls("sam deploy")[0]
    assert KEY_C not in r.stdout
    no_key_in_arguments(repo, KEY_C)


def test_equal_keys_are_refused(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_API_KEY": KEY_A, "LEADPIPE_ADMIN_API_KEY": KEY_A})
    assert r.returncode != 0
    assert "ApiKey and AdminApiKey are the same key: the ingest, admin and public keys must all differ" in r.stderr
    assert not repo.puts()
    assert KEY_A not in r.stderr


def test_key_equal_to_a_stored_key_is_refused(repo):
    repo.use_example_samconfig()
    repo.with_stored_keys()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_PUBLIC_API_KEY": KEY_B})
    assert r.returncode != 0
    assert "AdminApiKey and PublicApiKey are the same key" in r.stderr
    assert not repo.puts()


def test_invalid_key_is_refused(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build",
                 env={"LEADPIPE_API_KEY": "changeme-changeme-1234", "LEADPIPE_ADMIN_API_KEY": KEY_B})
    assert r.returncode != 0
    assert "ApiKey: not a valid key" in r.stderr
    assert not repo.puts()


def test_rotate_keys_in_a_secrets_manager_secret(repo):
    repo.use_example_samconfig()
    repo.outputs.write_text(json.dumps(SECRET_OUTPUTS))
    repo.secret.write_text(json.dumps({"API_KEY": KEY_A, "ADMIN_API_KEY": KEY_B, "PUBLIC_API_KEY": KEY_C}))
    r = repo.run("deploy.sh", "--skip-build", "--rotate-keys")
    assert r.returncode == 0, r.stdout + r.stderr
    secret = json.loads(repo.secret.read_text())
    assert set(secret) == {"API_KEY", "ADMIN_API_KEY", "PUBLIC_API_KEY"}
    assert len(set(secret.values())) == 3 and not set(secret.values()) & {KEY_A, KEY_B, KEY_C}
    put = json.loads((repo.capture / "put-secret.json").read_text())
    assert put["SecretId"] == SECRET_ARN
    assert "KeysRevision=" in repo.calls("sam deploy")[0]
    assert not repo.calls("aws ssm")
    no_key_in_arguments(repo, *secret.values())


def test_secret_without_the_keys_is_reported(repo):
    repo.use_example_samconfig()
    repo.outputs.write_text(json.dumps(SECRET_OUTPUTS))
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "lacks API_KEY or ADMIN_API_KEY: the functions cannot start" in r.stderr


def test_deploy_fails_clearly_when_outputs_missing(repo):
    repo.use_example_samconfig()
    repo.outputs.write_text(json.dumps(OUTPUTS[:1]))
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode != 0
    assert "stack outputs lack DashboardUrl, DashboardBucket, DistributionId" in r.stderr
    assert not repo.calls("aws s3")


@pytest.mark.parametrize("script", ["deploy.sh", "teardown.sh"])
def test_help_is_the_header_comment(repo, script):
    r = repo.run(script, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith(("Deploy Leadpipe", "Remove a Leadpipe deployment"))
    assert "set -euo pipefail" not in r.stdout and "Usage:" in r.stdout
    assert not repo.calls()


def test_site_only_needs_no_sam(repo):
    repo.use_example_samconfig()
    (repo.bin / "sam").unlink()
    r = repo.run("deploy.sh", "--site-only")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not repo.calls("cargo") and not repo.calls("sam") and not repo.calls("aws ssm")
    assert repo.calls("aws s3 cp")


# ---------------------------------------------------------------- teardown.sh

def test_teardown_empties_bucket_deletes_stack_and_explains_table(repo):
    repo.use_example_samconfig()
    r = repo.run("teardown.sh", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    aws = [c for c in repo.calls("aws") if not c.startswith("aws cloudformation describe-stacks")]
    assert aws == [
        "aws s3 rm s3://leadpipe-dashboardbucket-1x2y3z --recursive --region us-east-1",
        "aws cloudformation delete-stack --stack-name leadpipe --region us-east-1",
        "aws cloudformation wait stack-delete-complete --stack-name leadpipe --region us-east-1",
    ]
    assert "leadpipe-LeadsTable-ABC was retained" in r.stdout
    assert ("aws dynamodb update-table --table-name leadpipe-LeadsTable-ABC --no-deletion-protection-enabled "
            "--region us-east-1") in r.stdout
    # the keys stay in SSM; the command that deletes them is printed
    assert f"aws ssm delete-parameters --names {' '.join(KEY_NAMES)} --region us-east-1" in r.stdout
    assert "six Lambda functions" in r.stdout and "dead-letter queue" in r.stdout


def test_teardown_of_failed_first_deploy(repo):
    # a ROLLBACK_COMPLETE stack has no outputs: describe-stacks answers null
    repo.use_example_samconfig()
    repo.outputs.write_text("null")
    r = repo.run("teardown.sh", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not repo.calls("aws s3 rm")
    assert "aws cloudformation delete-stack --stack-name leadpipe --region us-east-1" in repo.calls("aws")
    assert "aws dynamodb list-tables --region us-east-1" in r.stdout


def test_teardown_without_confirmation_deletes_nothing(repo):
    repo.use_example_samconfig()
    r = repo.run("teardown.sh")
    assert r.returncode != 0
    assert "pass --yes" in r.stderr
    assert not repo.calls("aws s3 rm") and not repo.calls("aws cloudformation delete-stack")


def test_teardown_wrong_confirmation_deletes_nothing(repo):
    master, slave = pty.openpty()
    repo.use_example_samconfig()
    try:
        os.write(master, b"not-the-stack\n")
        env = repo.env()
        r = subprocess.run(["bash", str(repo.root / "scripts" / "teardown.sh")], stdin=slave,
                           capture_output=True, text=True, env=env, cwd=repo.root, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode != 0
    assert "confirmation did not match" in r.stderr
    assert not repo.calls("aws cloudformation delete-stack")


def test_teardown_stack_name_option(repo):
    r = repo.run("teardown.sh", "--yes", "--stack-name", "other", "--region", "ap-south-1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "aws cloudformation delete-stack --stack-name other --region ap-south-1" in repo.calls("aws")


# ---------------------------------------------------------------- deploy_helpers.py

def helper(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["python3", str(REPO / "infra" / "deploy_helpers.py"), *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_config_js_refuses_non_https_urls():
    assert helper("config-js", "http://example.com").returncode == 1
    assert helper("config-js", 'https://x.example/"};alert(1)//').returncode == 1
    ok = helper("config-js", API_URL + "/")
    assert ok.returncode == 0
    assert ok.stdout.splitlines()[-1] == f'window.LEADPIPE_CONFIG = {{ apiBaseUrl: "{API_URL}" }};'


def test_new_key_satisfies_the_key_pattern():
    key = helper("new-key").stdout.strip()
    assert re.fullmatch(r"^(?!.*[Cc][Hh][Aa][Nn][Gg][Ee][Mm][Ee])[A-Za-z0-9._~+/=-]{16,128}$", key)
    assert helper("check-keys", stdin=f"ApiKey\t{key}\n").returncode == 0


@pytest.mark.parametrize("value", ["short", "x" * 129, "has space in it 1234", "ChangeMe-0123456789abcdef", 'quote"d0123456789'])
def test_check_keys_refuses_invalid_keys_without_printing_them(value):
    r = helper("check-keys", stdin=f"AdminApiKey\t{value}\n")
    assert r.returncode == 1
    assert "AdminApiKey: not a valid key" in r.stderr
    assert value not in r.stderr and value not in r.stdout


def test_ssm_put_input_is_a_securestring_request():
    r = helper("ssm-put-input", "/leadpipe/x/api-key", "false", stdin=KEY_A)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"Name": "/leadpipe/x/api-key", "Value": KEY_A, "Type": "SecureString",
                                    "Overwrite": False,
                                    "Description": "Leadpipe API key (read by the functions at start-up)"}
    assert helper("ssm-put-input", "/leadpipe/x/api-key", "false", stdin="changeme").returncode == 1


def test_secret_put_input_merges_fields(tmp_path):
    current = tmp_path / "secret.json"
    current.write_text(json.dumps({"API_KEY": KEY_A, "ADMIN_API_KEY": KEY_B, "other": "kept"}))
    r = helper("secret-put-input", SECRET_ARN, str(current), stdin=f"ADMIN_API_KEY\t{KEY_C}\n")
    assert r.returncode == 0, r.stderr
    req = json.loads(r.stdout)
    assert req["SecretId"] == SECRET_ARN
    assert json.loads(req["SecretString"]) == {"API_KEY": KEY_A, "ADMIN_API_KEY": KEY_C, "other": "kept"}
    fields = helper("secret-fields", str(current))
    assert fields.stdout.splitlines() == [f"API_KEY\t{KEY_A}", f"ADMIN_API_KEY\t{KEY_B}"]
