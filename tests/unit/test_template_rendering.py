"""The emulator's template rendering: every expression form, JSON and XML escaping, numbers, defaults, properties."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expressions import BodyFormat, parse_expression, validate_template
from shared.notification_hubs.rendering import evaluate_expression, render_template


def parse_xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own rendered output, checked for well-formedness


PROPS = {"title": "This is the title line", "name": "Ada", "count": "40", "url": "a b/c?d=é"}


def render_value(expression: str, properties: dict[str, str] | None = None) -> object:
    """Render one JSON string value and return what a device would decode."""
    body = json.dumps({"v": expression})
    return json.loads(render_template(body, BodyFormat.JSON, PROPS if properties is None else properties))["v"]


class TestExpressionForms:
    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("$(title)", "This is the title line"),
            ("$(TITLE)", "This is the title line"),
            ("$( title )", "This is the title line"),
            ("$(title, 7)", "This is"),
            ("$(title,0)", ""),
            ("$(name, 10)", "Ada"),
            (".(title, 20)", "This is the title..."),
            (".(title, 22)", "This is the title line"),
            (".(title, 2)", ".."),
            ("%(url)", "a%20b%2Fc%3Fd%3D%C3%A9"),
            ("$(missing)", ""),
            ("$(missing:{fallback})", "fallback"),
            ("$(name:{fallback})", "Ada"),
            ("$(missing:{a\\}b\\\\c, d)})", "a}b\\c, d)"),
            ("$(missing:{abcdef}, 3)", "abc"),
            ("{'Hi, ' + $(name) + '!'}", "Hi, Ada!"),
            ('{"say ""hi"" " + $(name)}', 'say "hi" Ada'),
            ("{'it''s ' + .(title, 10)}", "it's This is..."),
            ("{ $(name)+' '+%(url) }", "Ada a%20b%2Fc%3Fd%3D%C3%A9"),
            ("{'a}b+c' + $(name)}", "a}b+cAda"),
            ("{#(count)}", "40"),
        ],
    )
    def test_each_form_renders_as_documented(self, expression, expected):
        assert render_value(expression) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("40", 40), ("0", 0), ("3.25", 3.25), ("1e3", 1000.0), ("2E-2", 0.02), ("1.5e+2", 150.0)],
    )
    def test_whole_value_number_expression_emits_a_bare_json_number(self, value, expected):
        rendered = render_template('{"badge":"#(n)"}', BodyFormat.JSON, {"n": value})

        assert rendered == f'{{"badge":{value}}}'
        assert json.loads(rendered)["badge"] == expected

    @pytest.mark.parametrize("value", ["-1", "01", "1.", ".5", "NaN", "Infinity", "0x10", "1 ", "", "forty"])
    def test_number_expression_emits_a_string_when_the_value_does_not_look_like_a_js_number(self, value):
        assert json.loads(render_template('{"badge":"#(n)"}', BodyFormat.JSON, {"n": value}))["badge"] == value

    def test_number_expression_inside_braces_stays_a_string(self):
        assert render_value("{#(count)}") == "40"

    def test_strings_not_starting_with_an_expression_character_are_literal(self):
        body = '{"a":"Hello $(name)","b":"\'lit\'","c":" $(name)","d":""}'

        assert render_template(body, BodyFormat.JSON, PROPS) == body

    def test_evaluate_expression_looks_properties_up_case_insensitively(self):
        assert evaluate_expression(parse_expression("$(Name)"), {"NAME": "Ada"}) == "Ada"


class TestJsonBodies:
    def test_renders_nested_values_and_keeps_everything_else_byte_for_byte(self):
        body = (
            '{\n  "aps": {"alert": {"title": "$(title, 7)", "body": "{$(name) + \'!\'}"}, "badge": "#(count)"},\n'
            '  "n": 1.50, "k": [true, null, "$(name)"], "$(name)": "x"\n}'
        )

        rendered = render_template(body, BodyFormat.JSON, PROPS)

        assert rendered == (
            '{\n  "aps": {"alert": {"title": "This is", "body": "Ada!"}, "badge": 40},\n'
            '  "n": 1.50, "k": [true, null, "Ada"], "$(name)": "x"\n}'
        )

    def test_values_are_json_escaped(self):
        value = 'quote " backslash \\ newline \n tab \t nul \x00 emoji 😀 line-sep \u2028'

        rendered = render_template('{"a":"$(v)"}', BodyFormat.JSON, {"v": value})

        assert json.loads(rendered) == {"a": value}

    def test_lone_surrogates_are_escaped_so_the_output_encodes_as_utf8(self):
        rendered = render_template('{"a":"$(v)"}', BodyFormat.JSON, {"v": "x\ud800y"})

        rendered.encode("utf-8")
        assert json.loads(rendered) == {"a": "x\ud800y"}

    def test_escaped_characters_in_the_template_are_decoded_before_parsing(self):
        assert render_template('{"a":"{\\"x\\u0027\\" + $(name)}"}', BodyFormat.JSON, PROPS) == '{"a":"x\'Ada"}'

    def test_render_raises_the_same_errors_as_validate(self):
        with pytest.raises(NhValidationError, match="expected '\\)'"):
            render_template('{"a":"$(x"}', BodyFormat.JSON, PROPS)


TOAST = (
    '<toast launch="{\'app?id=\' + %(id)}"><!-- keep --><visual><binding template="ToastGeneric">'
    '<text id="1">\n    $(title)\n  </text><text id="2">.(body, 10)</text><text id="3">plain $(x)</text>'
    "</binding></visual></toast>"
)


class TestXmlBodies:
    def test_renders_attributes_and_element_text(self):
        rendered = render_template(TOAST, BodyFormat.XML, {"id": "a&b", "title": "T<1>", "body": "0123456789AB"})

        root = parse_xml(rendered)
        assert root.get("launch") == "app?id=a%26b"
        texts = [element.text for element in root.iter("text")]
        assert texts == ["T<1>", "0123456...", "plain $(x)"]
        assert "<!-- keep -->" in rendered

    def test_values_are_xml_escaped_in_text_and_attributes(self):
        value = "<b>&amp;\"quoted\" 'single' ]]> \n\t"
        body = '<toast a="$(v)"><text>$(v)</text></toast>'

        root = parse_xml(render_template(body, BodyFormat.XML, {"v": value}))

        assert root.get("a") == value
        assert root.find("text").text == value  # type: ignore[union-attr]

    def test_characters_xml_cannot_carry_become_replacement_characters(self):
        rendered = render_template("<t>$(v)</t>", BodyFormat.XML, {"v": "a\x00b\x1bc\ud800d\ufffe"})

        assert parse_xml(rendered).text == "a\ufffdb\ufffdc\ufffdd\ufffd"

    def test_tail_text_after_a_child_is_also_an_expression_site(self):
        rendered = render_template("<t><b/>$(name)</t>", BodyFormat.XML, PROPS)

        assert rendered == "<t><b />Ada</t>"


# --- property tests --------------------------------------------------------------------------------------------

property_values = st.text(max_size=40)
property_maps = st.dictionaries(st.sampled_from(["title", "Body", "n", "other"]), property_values, max_size=4)

JSON_TEMPLATE = (
    '{"aps":{"alert":{"title":"$(title)","body":".(body, 12)"},"badge":"#(n)"},'
    '"link":"{\'x://\' + %(other) + \'/\' + $(body, 5)}","d":"$(other:{d\\\\}})"}'
)
XML_TEMPLATE = (
    '<toast launch="{\'x?\' + $(title)}"><visual><binding template="T">'
    "<text>$(title)</text><text>{.(body, 12) + ' ' + %(other)}</text><text>$(n)</text>"
    "</binding></visual></toast>"
)


def xml_safe(text: str) -> str:
    """What XML 1.0 can carry: other characters are expected as U+FFFD."""

    def allowed(char: str) -> bool:
        code = ord(char)
        return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000

    return "".join(char if allowed(char) else "\ufffd" for char in text)


class TestRenderingProperties:
    @settings(max_examples=150, deadline=None)
    @given(properties=property_maps)
    def test_json_rendering_of_arbitrary_values_is_valid_json_carrying_the_values(self, properties):
        rendered = render_template(JSON_TEMPLATE, BodyFormat.JSON, properties)

        rendered.encode("utf-8")
        document = json.loads(rendered)
        lower = {key.lower(): value for key, value in properties.items()}
        assert document["aps"]["alert"]["title"] == lower.get("title", "")
        badge = document["aps"]["badge"]
        if isinstance(badge, str):
            assert badge == lower.get("n", "")
        else:
            assert badge == json.loads(lower["n"])

    @settings(max_examples=150, deadline=None)
    @given(properties=property_maps)
    def test_xml_rendering_of_arbitrary_values_is_well_formed_xml(self, properties):
        rendered = render_template(XML_TEMPLATE, BodyFormat.XML, properties)

        root = parse_xml(rendered)
        title = properties.get("title", "")
        assert root.get("launch") == "x?" + xml_safe(title)
        assert (root.find(".//text").text or "") == xml_safe(title).replace("\r\n", "\n").replace("\r", "\n")  # type: ignore[union-attr]

    @settings(max_examples=200, deadline=None)
    @given(expression=st.one_of(st.text(max_size=30), st.text(alphabet="$.%#{}()'\",:+ \\ab1", max_size=30)))
    def test_junk_expressions_raise_only_validation_errors_and_render_when_valid(self, expression):
        body = json.dumps({"v": expression})
        try:
            validate_template(body, BodyFormat.JSON)
            rendered: str | None = render_template(body, BodyFormat.JSON, {"a": "x"})
        except NhValidationError as exc:
            rendered, errors = None, exc.errors
        if rendered is None:
            assert errors
        else:
            json.loads(rendered)
