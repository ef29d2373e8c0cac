"""Route templates of the dev host: parameters, constraints, optional and catch-all segments, precedence."""

from __future__ import annotations

import pytest

from local.devhost.routes import RouteTable, compile_route
from shared.domain.errors import ConfigError

pytestmark = pytest.mark.local


class TestRouteTemplates:
    @pytest.mark.parametrize(
        ("template", "path", "expected"),
        [
            ("items", "items", {}),
            ("items", "ITEMS", {}),
            ("items/{id}", "items/abc", {"id": "abc"}),
            ("items/{id:int}", "items/42", {"id": "42"}),
            ("items/{id:int}", "items/-7", {"id": "-7"}),
            ("items/{id:int}", "items/x", None),
            ("items/{id:int}", "items/99999999999", None),
            ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
            (
                "items/{id:guid}",
                "items/0b9f5c2e-1d3a-4c7e-9a55-2f1a0e6c8d11",
                {"id": "0b9f5c2e-1d3a-4c7e-9a55-2f1a0e6c8d11"},
            ),
            ("items/{id:guid}", "items/not-a-guid", None),
            ("items/{id:alpha}", "items/abc", {"id": "abc"}),
            ("items/{id:alpha}", "items/ab1", None),
            ("items/{id:bool}", "items/True", {"id": "True"}),
            ("items/{id:int:min(10)}", "items/5", None),
            ("items/{id:int:range(1,9)}", "items/5", {"id": "5"}),
            ("items/{id:length(3)}", "items/abcd", None),
            ("items/{id:regex(^[a-z]+$)}", "items/ab", {"id": "ab"}),
            ("items/{id:regex(^[a-z]+$)}", "items/a1", None),
            ("items/{id?}", "items", {}),
            ("items/{id?}", "items/7", {"id": "7"}),
            ("items/{id:int?}", "items/x", None),
            ("items/{page=1}", "items", {"page": "1"}),
            ("files/{*rest}", "files/a/b/c.txt", {"rest": "a/b/c.txt"}),
            ("files/{*rest}", "files", {}),
            ("files/{**rest}", "files/a/b", {"rest": "a/b"}),
            ("items/{id}", "items/a/b", None),
            (
                "devices/{deviceId:guid}/events/{seq:int?}",
                "devices/0b9f5c2e-1d3a-4c7e-9a55-2f1a0e6c8d11/events",
                {"deviceId": "0b9f5c2e-1d3a-4c7e-9a55-2f1a0e6c8d11"},
            ),
            ("files/{name}.{ext}", "files/report.pdf", {"name": "report", "ext": "pdf"}),
        ],
    )
    def test_matches_paths_like_the_host(self, template: str, path: str, expected: dict[str, str] | None) -> None:
        assert compile_route(template).match(path) == expected

    @pytest.mark.parametrize(
        "template",
        ["items/{id:weird}", "files/{*rest}/more", "items/{id?}/more", "items/{id}/{ID}", "items/{1bad}"],
    )
    def test_refuses_templates_it_cannot_honour(self, template: str) -> None:
        with pytest.raises(ConfigError):
            compile_route(template)


class TestRouteTable:
    def test_literal_routes_win_over_parameters_and_constrained_over_plain(self) -> None:
        table: RouteTable[str] = RouteTable()
        table.add("items/{id}", ["GET"], "plain")
        table.add("items/{id:int}", ["GET"], "int")
        table.add("items/latest", ["GET"], "literal")
        table.add("items/{*rest}", ["GET"], "catch-all")
        assert table.match("GET", "items/latest").target == "literal"  # type: ignore[union-attr]
        assert table.match("GET", "items/5").target == "int"  # type: ignore[union-attr]
        assert table.match("GET", "items/x").target == "plain"  # type: ignore[union-attr]
        assert table.match("GET", "items/x/y").target == "catch-all"  # type: ignore[union-attr]

    def test_method_decides_between_routes_with_the_same_template(self) -> None:
        table: RouteTable[str] = RouteTable()
        table.add("installations/{id}", ["PUT"], "put")
        table.add("installations/{id}", ["GET", "DELETE"], "get")
        found = table.match("delete", "installations/abc")
        assert found is not None
        assert (found.target, found.route_params) == ("get", {"id": "abc"})

    def test_reports_allowed_methods_when_only_the_method_is_wrong(self) -> None:
        table: RouteTable[str] = RouteTable()
        table.add("installations/{id}", ["PUT"], "put")
        table.add("installations/{id}", ["GET"], "get")
        assert table.match("POST", "installations/abc") is None
        assert table.allowed_methods("installations/abc") == {"PUT", "GET"}
        assert table.allowed_methods("nothing") == set()

    def test_routes_without_methods_accept_any_method(self) -> None:
        table: RouteTable[str] = RouteTable()
        table.add("health", None, "health")
        assert table.match("OPTIONS", "/health/") is not None
