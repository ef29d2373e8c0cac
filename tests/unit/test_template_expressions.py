"""Template validation: the expression language's forms, where expressions sit in JSON and XML bodies, errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expressions import (
    BodyFormat,
    JsonExpressionSite,
    LiteralTerm,
    PropertyTerm,
    TemplateExpression,
    body_format_for,
    is_expression,
    json_expression_sites,
    parse_expression,
    parse_xml_template,
    validate_template,
)


class TestExpressions:
    def test_parse_expression_returns_the_terms(self):
        assert parse_expression("{'Hi ' + $(name:{you}, 5) + .(t, 9)}") == TemplateExpression(
            (LiteralTerm("Hi "), PropertyTerm("$", "name", 5, "you"), PropertyTerm(".", "t", 9)), composite=True
        )

    def test_only_values_starting_with_an_expression_character_are_expressions(self):
        assert not is_expression("Hello $(name)")
        assert not is_expression(" $(name)")
        assert not is_expression("")
        assert is_expression("{'x'}")
        assert all(is_expression(start + "(x)") for start in "$.%#")


class TestExpressionSites:
    def test_json_sites_are_the_expression_values_in_document_order_with_their_spans(self):
        body = '{"t": "$(title)", "$(key)": "plain", "list": ["x", "{$(a) + \'!\'}"], "n": "#(n)"}'

        sites = json_expression_sites(body)

        assert [body[site.start : site.end] for site in sites] == ['"$(title)"', "\"{$(a) + '!'}\"", '"#(n)"']
        assert sites[0].expression == parse_expression("$(title)")

    def test_xml_sites_are_attributes_text_and_tails_in_document_order(self):
        template = parse_xml_template('<t a="$(a)" b="lit"><x>  $(x)  </x>.(y, 3)<!-- c --><z/></t>')

        found = [(site.element.tag, site.slot, site.attribute, site.expression) for site in template.sites]
        assert found == [
            ("t", "attribute", "a", parse_expression("$(a)")),
            ("x", "text", "", parse_expression("$(x)")),
            ("x", "tail", "", parse_expression(".(y, 3)")),
        ]
        assert template.root.tag == "t"


class TestJsonBodies:
    @pytest.mark.parametrize(
        ("body", "location", "complaint"),
        [
            ('{"a":', "body", "not well-formed JSON: Expecting value at line 1 column 6"),
            ('{"a": NaN}', "body", "NaN is not JSON"),
            ("[" * 5000 + "]" * 5000, "body", "nested too deeply"),
            ('{"aps":{"alert":"$(x"}}', "body/aps/alert", "'\\$\\(x' at character 4: expected '\\)' at the end"),
            ('{"a":["ok","$x"]}', "body/a/1", "at character 2: expected '\\(' after '\\$', found 'x'"),
            ('{"a/b~c":"$(bad name)"}', "body/a~1b~0c", "property name 'bad name' may contain only letters"),
            ('{"a":"$(' + "p" * 121 + ')"}', "body/a", "at most 120 characters"),
            ('{"a":"$()"}', "body/a", "a property name is missing"),
            ('{"a":"$body"}', "body/a", "'\\$body' is not supported"),
            ('{"a":".(t)"}', "body/a", "needs a length"),
            ('{"a":"%(t, 3)"}', "body/a", "takes no length"),
            ('{"a":"#(t, 3)"}', "body/a", "takes no length"),
            ('{"a":"$(t, x)"}', "body/a", "at character 6: expected a length"),
            ('{"a":"$(t, 9999999999)"}', "body/a", "too large"),
            ('{"a":"$(t:{x)"}', "body/a", "default value is not closed"),
            ('{"a":"$(t:x)"}', "body/a", "expected '\\{' after ':'"),
            ('{"a":"$(a) + $(b)"}', "body/a", "at character 6: unexpected '\\+'; concatenate inside"),
            ('{"a":"{$(a) $(b)}"}', "body/a", "at character 7: expected '\\+' or '\\}', found '\\$'"),
            ('{"a":"{\'x\' + $(a)"}', "body/a", "'\\{' at character 1 is not closed"),
            ('{"a":"{\'x + $(a)}"}', "body/a", "literal opened at character 2 is not closed"),
            ('{"a":"{}"}', "body/a", "expected \\$\\( \\.\\( %\\( #\\( or a quoted literal, found '\\}'"),
            ('{"a":"{$(a)} x"}', "body/a", "after the closing"),
            ('{"a":"{#(a) + $(b)}"}', "body/a", "cannot be concatenated"),
        ],
    )
    def test_invalid_templates_name_the_location_and_the_problem(self, body, location, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            validate_template(body, BodyFormat.JSON)

        assert caught.value.errors[0].location == location

    def test_location_prefix_is_configurable(self):
        with pytest.raises(NhValidationError) as caught:
            validate_template('{"a":"$(x"}', BodyFormat.JSON, location="/templates/alert/body")

        assert caught.value.errors[0].location == "/templates/alert/body/a"

    def test_validate_accepts_a_realistic_fcm_template(self):
        validate_template(
            '{"message":{"notification":{"title":"$(title_en:{News})","body":".(body_en, 120)"},'
            '"data":{"eventId":"$(eventId)","deepLink":"{\'app://\' + %(deepLink)}"}}}',
            BodyFormat.JSON,
        )


TOAST = (
    '<toast launch="{\'app?id=\' + %(id)}"><!-- keep --><visual><binding template="ToastGeneric">'
    '<text id="1">\n    $(title)\n  </text><text id="2">.(body, 10)</text><text id="3">plain $(x)</text>'
    "</binding></visual></toast>"
)


class TestXmlBodies:
    @pytest.mark.parametrize(
        ("body", "location", "complaint"),
        [
            ("<toast>", "body", "not well-formed XML: no element found at line 1 column 8"),
            ("", "body", "not well-formed XML"),
            ('<!DOCTYPE t [<!ENTITY x "y">]><t>&x;</t>', "body", "must not contain a DOCTYPE"),
            ('<!DOCTYPE t SYSTEM "file:///etc/passwd"><t/>', "body", "must not contain a DOCTYPE"),
            ("<t>&x;</t>", "body", "undefined entity"),
            ("<a>" * 101 + "</a>" * 101, "body", "nested deeper than 100"),
            ("<toast><text>$(x</text></toast>", "body/toast/text", "expected '\\)' at the end"),
            ('<toast><t/><t a="%(x,2)"/></toast>', "body/toast/t[2]/@a", "takes no length"),
            ("<toast><text>#(n)</text></toast>", "body/toast/text", "only allowed in JSON"),
            ("<toast><text>{'a' + #(n)}</text></toast>", "body/toast/text", "cannot be concatenated"),
            ('<toast a="{#(n)}"/>', "body/toast/@a", "only allowed in JSON"),
        ],
    )
    def test_invalid_xml_templates_name_the_location_and_the_problem(self, body, location, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            validate_template(body, BodyFormat.XML)

        assert caught.value.errors[0].location == location

    def test_validate_leaves_a_valid_toast_alone(self):
        validate_template(TOAST, BodyFormat.XML)


class TestBodyFormatFor:
    @pytest.mark.parametrize(
        ("platform", "expected"),
        [("wns", BodyFormat.XML), ("WNS", BodyFormat.XML), ("mpns", BodyFormat.XML), ("apns", BodyFormat.JSON)],
    )
    def test_windows_platforms_use_xml_and_the_rest_json(self, platform, expected):
        assert body_format_for(platform) is expected

    def test_fcmv1_uses_json(self):
        assert body_format_for("fcmV1") is BodyFormat.JSON


class TestValidationProperties:
    @settings(max_examples=200, deadline=None)
    @given(expression=st.one_of(st.text(max_size=30), st.text(alphabet="$.%#{}()'\",:+ \\ab1", max_size=30)))
    def test_junk_expressions_raise_only_validation_errors(self, expression):
        body = json.dumps({"v": expression})
        try:
            sites: list[JsonExpressionSite] | None = json_expression_sites(body)
        except NhValidationError as exc:
            sites, errors = None, exc.errors
        if sites is None:
            assert errors
        else:
            found = [json.loads(body[site.start : site.end]) for site in sites]
            assert found == ([expression] if is_expression(expression) else [])
