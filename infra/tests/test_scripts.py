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
FUNCTIONS = ["postback", "leads", "stage", "analytics"]
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
OUTPUTS = [
    {"OutputKey": "ApiUrl", "OutputValue": API_URL},
    {"OutputKey": "DashboardUrl", "OutputValue": "https://d111111abcdef8.cloudfront.net"},
    {"OutputKey": "DashboardBucket", "OutputValue": "leadpipe-dashboardbucket-1x2y3z"},
    {"OutputKey": "DistributionId", "OutputValue": "E2QWRUHEXAMPLE"},
    {"OutputKey": "TableName", "OutputValue": "leadpipe-LeadsTable-ABC"},
]

AWS_STUB = r"""#!/usr/bin/env bash
printf 'aws %s\n' "$*" >> "$STUB_LOG"
case "$1 $2" in
  "cloudformation describe-stacks") cat "$STUB_OUTPUTS" ;;
  "s3 cp") cp "$3" "$STUB_CAPTURE/$(basename "$3")" ;;
  "cloudfront create-invalidation") echo I2J3EXAMPLE ;;
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
        site = root / "static-site"
        (site / "js").mkdir(parents=True)
        (site / "index.html").write_text("<!doctype html><title>Leadpipe</title>")
        (site / "config.js").write_text('window.LEADPIPE_CONFIG = { apiBaseUrl: "" };\n')
        (site / "js" / "app.js").write_text("export {};\n")
        self.bin = root / "stub-bin"
        self.bin.mkdir()
        for name, body in {"aws": AWS_STUB, "sam": SAM_STUB, "cargo": CARGO_STUB, "rustup": RUSTUP_STUB}.items():
            p = self.bin / name
            p.write_text(body)
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log = root / "stub.log"
        self.capture = root / "capture"
        self.capture.mkdir()
        self.outputs = root / "outputs.json"
        self.outputs.write_text(json.dumps(OUTPUTS))

    def use_example_samconfig(self) -> None:
        shutil.copy(self.root / "infra" / "samconfig.example.toml", self.root / "infra" / "samconfig.toml")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "LEADPIPE_")) and k not in ("STACK_NAME", "CARGO_TARGET_DIR")}
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}", STUB_LOG=str(self.log),
                   STUB_CAPTURE=str(self.capture), STUB_OUTPUTS=str(self.outputs))
        return env

    def run(self, script: str, *args: str, tty: bool = False, env: dict | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        full_env = self.env()
        full_env.update(env or {})
        cmd = ["bash", str(self.root / "scripts" / script), *args]
        if tty:
            master, slave = pty.openpty()
            try:
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

def test_lambda_build_builds_all_four_for_arm64_and_prints_sizes(repo):
    r = repo.run("lambda-build.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    builds = repo.calls("cargo lambda build")
    assert len(builds) == 1
    assert builds[0].startswith("cargo lambda build --release --arm64 --bin postback --bin leads "
                                "--bin stage --bin analytics ")
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

def test_first_deploy_without_terminal_explains(repo):
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode != 0
    assert "needs a terminal" in r.stderr
    assert not repo.calls("sam deploy")


def test_first_deploy_is_guided_then_uploads_dashboard(repo):
    r = repo.run("deploy.sh", "--skip-build", tty=True)
    assert r.returncode == 0, r.stdout + r.stderr
    infra = repo.root / "infra"
    build = repo.calls("sam build")
    assert build == [f"sam build [cwd={infra} beta=1]"]
    deploy = repo.calls("sam deploy")
    assert deploy == [f"sam deploy --guided --no-fail-on-empty-changeset [cwd={infra} beta=]"]
    # stack name and region come from the samconfig.toml that the guided deploy saved
    assert any("cloudformation describe-stacks --stack-name guided-stack --region eu-west-1" in c
               for c in repo.calls("aws"))


def test_later_deploy_is_plain_and_writes_config_js(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh")
    assert r.returncode == 0, r.stdout + r.stderr
    # 1. lambda-build ran
    assert repo.calls("cargo lambda build --release --arm64")
    # 2-3. sam build and a plain sam deploy in infra/
    assert [c.split(" [")[0] for c in repo.calls("sam")] == ["sam build", "sam deploy --no-fail-on-empty-changeset"]
    aws = repo.calls("aws")
    assert aws[0] == ("aws cloudformation describe-stacks --stack-name leadpipe --region us-east-1 "
                      "--query Stacks[0].Outputs --output json")
    # 4. upload: everything but config.js synced, config.js generated from ApiUrl
    sync = next(c for c in aws if c.startswith("aws s3 sync"))
    assert f"{repo.root}/static-site/ s3://leadpipe-dashboardbucket-1x2y3z/ --delete --exclude config.js" in sync
    cp = next(c for c in aws if c.startswith("aws s3 cp"))
    assert cp.split()[4] == "s3://leadpipe-dashboardbucket-1x2y3z/config.js"
    assert "--cache-control no-cache, no-store, must-revalidate" in cp
    config = (repo.capture / "config.js").read_text()
    assert f'window.LEADPIPE_CONFIG = {{ apiBaseUrl: "{API_URL}" }};' in config.splitlines()
    # the repository's own static-site/config.js is left alone
    assert (repo.root / "static-site" / "config.js").read_text() == 'window.LEADPIPE_CONFIG = { apiBaseUrl: "" };\n'
    # 5. invalidation
    assert "aws cloudfront create-invalidation --distribution-id E2QWRUHEXAMPLE --paths /* " \
           "--query Invalidation.Id --output text" in aws
    assert "https://d111111abcdef8.cloudfront.net" in r.stdout
    assert f"{API_URL}/api/postback" in r.stdout


def test_rotate_keys_keeps_other_parameters(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", "--rotate-keys")
    assert r.returncode == 0, r.stdout + r.stderr
    deploy = repo.calls("sam deploy")[0]
    m = re.search(r"--parameter-overrides (.*) \[cwd=", deploy)
    assert m, deploy
    overrides = m.group(1)
    assert 'PipelineStages="New,Form Started,Application Submitted,Paid,Completed"' in overrides
    keys = re.findall(r"\b(ApiKey|AdminApiKey)=([0-9a-f]{64})\b", overrides)
    assert [k for k, _ in keys] == ["ApiKey", "AdminApiKey"]
    assert keys[0][1] != keys[1][1]
    for _, value in keys:
        assert value in r.stdout, "new keys must be shown once"


def test_keys_from_environment(repo):
    repo.use_example_samconfig()
    r = repo.run("deploy.sh", "--skip-build", env={"LEADPIPE_ADMIN_API_KEY": "a" * 40})
    assert r.returncode == 0, r.stdout + r.stderr
    deploy = repo.calls("sam deploy")[0]
    assert "AdminApiKey=" + "a" * 40 in deploy and "ApiKey=" not in deploy.replace("AdminApiKey=", "")


def test_deploy_fails_clearly_when_outputs_missing(repo):
    repo.use_example_samconfig()
    repo.outputs.write_text(json.dumps(OUTPUTS[:1]))
    r = repo.run("deploy.sh", "--skip-build")
    assert r.returncode != 0
    assert "stack outputs lack DashboardUrl, DashboardBucket, DistributionId" in r.stderr
    assert not repo.calls("aws s3")


def test_site_only_needs_no_sam(repo):
    repo.use_example_samconfig()
    (repo.bin / "sam").unlink()
    r = repo.run("deploy.sh", "--site-only")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not repo.calls("cargo") and not repo.calls("sam")
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


def test_new_key_satisfies_the_template_pattern():
    key = helper("new-key").stdout.strip()
    assert re.fullmatch(r"^(?!.*[Cc][Hh][Aa][Nn][Gg][Ee][Mm][Ee])[A-Za-z0-9._~+/=-]{16,128}$", key)
