"""The installed package: its version is the platform's, and it ships its types."""

from __future__ import annotations

import tomllib
from importlib import metadata, resources
from pathlib import Path

import spot_sdk


def test_the_version_is_the_workspace_version() -> None:
    cargo = tomllib.loads((Path(__file__).parents[3] / "Cargo.toml").read_text())
    workspace = cargo["workspace"]["package"]["version"]
    assert spot_sdk.__version__ == workspace
    assert metadata.version("spot-optimizer-sdk") == workspace


def test_it_ships_py_typed_and_the_stubs() -> None:
    package = resources.files("spot_sdk")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("gen/spot/cluster/v1/cluster_pb2_grpc.pyi").is_file()
