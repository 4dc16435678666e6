"""`python -m devstack.docs`: write each service's AsyncAPI (Kafka) and OpenAPI (HTTP) document."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from faststream.specification import AsyncAPI

from devstack.pipeline import ROOT, SERVICES


def main(out: Path = ROOT / "docs") -> None:
    for name in SERVICES:
        service = importlib.import_module(f"services.{name}.app").build_app()
        spec = AsyncAPI(
            service.broker,
            title=f"Help desk {name}",
            version="0.1.0",
            description=service.http.description,
        ).to_specification()
        (out / "asyncapi").mkdir(parents=True, exist_ok=True)
        (out / "openapi").mkdir(parents=True, exist_ok=True)
        (out / "asyncapi" / f"{name}.yaml").write_text(spec.to_yaml())
        (out / "openapi" / f"{name}.json").write_text(
            json.dumps(service.http.openapi(), indent=2, ensure_ascii=False)
        )
        print(f"{name}: docs/asyncapi/{name}.yaml docs/openapi/{name}.json")


if __name__ == "__main__":
    main()
