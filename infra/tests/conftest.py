"""Fixtures for the infra self-tests: a throw-away copy of the repository parts the checker reads."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
sys.path.insert(0, str(INFRA))

import check_template  # noqa: E402


def contract_openapi() -> dict:
    """An OpenAPI 3.1 document with exactly the routes of docs/api-contract.md (the checker's own
    expectations are not used to build it, so a drift between the two shows up)."""
    routes = [
        ("get", "/api/health"), ("get", "/api/stages"), ("get", "/api/openapi.json"),
        ("post", "/api/postback"), ("get", "/api/postback"), ("get", "/api/leads"), ("get", "/api/leads/count"), ("get", "/api/leads/{id}"),
        ("put", "/api/leads/{id}/stage"), ("delete", "/api/leads/{id}"), ("get", "/api/analytics"),
        ("get", "/api/analytics/breakdown"), ("get", "/api/analytics/abandonment"),
        ("get", "/api/postbacks"), ("post", "/api/leads/{id}/release"), ("post", "/api/import"),
        ("get", "/api/analytics/values"), ("post", "/api/webhooks"), ("get", "/api/webhooks"),
        ("delete", "/api/webhooks/{id}"), ("post", "/api/webhooks/{id}/enable"), ("get", "/api/webhooks/{id}/deliveries"),
        ("post", "/api/webhooks/{id}/deliveries/{delivery_id}/retry"),
        ("post", "/api/leads/{id}/orders"), ("put", "/api/leads/{id}/orders/{order_id}"),
        ("delete", "/api/leads/{id}/orders/{order_id}"), ("get", "/api/analytics/pipeline"),
        ("get", "/api/spend"), ("post", "/api/spend"), ("delete", "/api/spend"), ("post", "/api/spend/import"),
        ("get", "/api/rates"), ("put", "/api/rates"), ("post", "/api/rates/import"),
        ("delete", "/api/rates/{currency}/{day}"),
        ("get", "/api/leads/export"), ("get", "/api/audit"), ("get", "/api/audit/export"), ("post", "/api/privacy/erasure"), ("get", "/api/privacy/export"), ("post", "/api/auth/login"), ("post", "/api/auth/logout"),
        ("post", "/api/auth/logout-all"), ("get", "/api/auth/me"), ("post", "/api/auth/accept-invite"),
        ("get", "/api/users"), ("post", "/api/users/invites"), ("patch", "/api/users/{id}"),
        ("post", "/api/auth/two-factor/setup"), ("post", "/api/auth/two-factor/confirm"),
        ("post", "/api/auth/two-factor/disable"), ("post", "/api/users/{id}/two-factor/reset"),
    ]
    paths: dict = {}
    for method, path in routes:
        paths.setdefault(path, {})[method] = {"responses": {"200": {"description": "ok"}}}
    return {"openapi": "3.1.0", "info": {"title": "Leadpipe", "version": "0.1.0"}, "paths": paths}


#: Rust sources the checker reads: the routers (which function serves which route), the DynamoDB calls (the
#: IAM inventory), the table design version and the TTL attribute.
RUST_SOURCES = ["functions/*/src/*.rs", "shared/http/src/routes.rs", "shared/http/src/app.rs",
                "shared/http/src/extract.rs",
                "shared/dynamo/src/*.rs"]


class Tree:
    """A copy of Cargo.toml, functions/*/Cargo.toml, the Rust sources the checker reads, infra/ and a contract
    OpenAPI document."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copy(REPO / "Cargo.toml", root / "Cargo.toml")
        for manifest in (REPO / "functions").glob("*/Cargo.toml"):
            dest = root / "functions" / manifest.parent.name
            dest.mkdir(parents=True)
            shutil.copy(manifest, dest / "Cargo.toml")
        for pattern in RUST_SOURCES:
            for src in REPO.glob(pattern):
                dest = root / src.relative_to(REPO)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest)
        (root / "infra").mkdir()
        shutil.copy(INFRA / "template.yaml", root / "infra" / "template.yaml")
        shutil.copy(INFRA / "table-definition.json", root / "infra" / "table-definition.json")
        (root / "docs").mkdir()
        self.write_openapi(contract_openapi())

    @property
    def template(self) -> Path:
        return self.root / "infra" / "template.yaml"

    def write_openapi(self, doc: dict) -> None:
        (self.root / "docs" / "openapi.json").write_text(json.dumps(doc, indent=1))

    def mutate(self, old: str, new: str, count: int = 1) -> None:
        """Replace the first `count` occurrences of `old` in the template copy (which must contain it)."""
        text = self.template.read_text()
        assert text.count(old) >= count, f"fixture drift: {old!r} occurs {text.count(old)} times in template.yaml"
        self.template.write_text(text.replace(old, new, count))

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace `old` (which must occur) by `new` in the copy of another file."""
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"fixture drift: {old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    def run(self, capsys) -> tuple[int, str]:
        rc = check_template.main(["--root", str(self.root)])
        out = capsys.readouterr().out
        return rc, out


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)
